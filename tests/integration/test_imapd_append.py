"""imapd MULTIAPPEND (RFC 3502): several messages in one APPEND, all
stored or none, one APPENDUID with the UIDs in message order; with
synchronising literals and with LITERAL+; a failure at any message
(bad flags or date, over quota, the client gone) leaves nothing."""

import os
import re
import time

import pytest

from imapdutil import Raw, make_imap_instance


@pytest.fixture
def imap(make_instance):
    inst, store = make_imap_instance(make_instance, quota=20000)
    inst.store = store
    return inst


def msg(n, size=0):
    return ("Subject: m%d\r\n\r\nbody %d %s\r\n" % (n, n, "x" * size)).encode()


def stored(store):
    """Subjects of the messages in INBOX's new/ and cur/, and the tmp/
    files left."""
    subjects = []
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(store, sub)):
            with open(os.path.join(store, sub, name), "rb") as f:
                m = re.search(rb"Subject: (\S+)", f.read())
                subjects.append(m.group(1).decode())
    return sorted(subjects), os.listdir(os.path.join(store, "tmp"))


def session(imap):
    r = Raw(imap)
    assert r.login()[-1].startswith("L OK")
    return r


def test_capability(imap):
    r = session(imap)
    assert "MULTIAPPEND" in r.cmd("CAPABILITY", "c")[0].split()


def test_multiappend_sync_literals(imap):
    r = session(imap)
    m1, m2, m3 = msg(1), msg(2), msg(3)
    r.send(b"a APPEND INBOX (\\Seen) {%d}\r\n" % len(m1))
    assert r.line().startswith("+")
    r.send(m1 + b' (\\Flagged $Work) "05-Jan-2024 10:00:00 +0000" {%d}\r\n'
           % len(m2))
    assert r.line().startswith("+")
    # Nothing is in the folder before the last message is.
    assert stored(imap.store)[0] == []
    r.send(m2 + b" {%d}\r\n" % len(m3))
    assert r.line().startswith("+")
    r.send(m3 + b"\r\n")
    reply = r.until_tagged("a")[-1]
    m = re.match(r"a OK \[APPENDUID (\d+) (\S+)\]", reply)
    assert m, reply
    assert m.group(2) == "1:3", reply
    assert stored(imap.store) == (["m1", "m2", "m3"], [])
    lines = r.cmd("SELECT INBOX", "s")
    assert "[UIDVALIDITY %s]" % m.group(1) in "\n".join(lines)
    lines = r.cmd("FETCH 1:3 (UID FLAGS INTERNALDATE)", "f")
    assert re.search(r"\* 1 FETCH \(UID 1 FLAGS \(\\Seen", lines[0]), lines
    assert "\\Flagged" in lines[1] and "$Work" in lines[1], lines
    # The date given (shown in the server's zone: same month here).
    assert "-Jan-2024 " in lines[1], lines
    assert "FLAGS (\\Recent)" in lines[2], lines


def test_multiappend_literal_plus(imap):
    r = session(imap)
    m1, m2 = msg(1), msg(2)
    r.send(b"a APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s\r\n"
           % (len(m1), m1, len(m2), m2))
    reply = r.until_tagged("a")
    assert re.match(r"a OK \[APPENDUID \d+ 1:2\]", reply[-1]), reply
    assert not any(x.startswith("+") for x in reply), reply
    assert stored(imap.store) == (["m1", "m2"], [])


@pytest.mark.parametrize("second, status", [
    (b" (\\Bogus) {%d+}\r\n", "BAD"),
    (b' "not a date" {%d+}\r\n', "BAD"),
    (b" garbage{%d+}\r\n", "BAD"),
])
def test_multiappend_bad_message_stores_none(imap, second, status):
    r = session(imap)
    m1, m2, m3 = msg(1), msg(2), msg(3)
    r.send(b"a APPEND INBOX {%d+}\r\n%s" % (len(m1), m1)
           + second % len(m2) + m2
           + b" {%d+}\r\n%s\r\n" % (len(m3), m3))
    reply = r.until_tagged("a")[-1]
    assert reply.startswith("a " + status), reply
    # The literals that came anyway were read: the session is in step.
    assert r.cmd("NOOP", "n")[-1].startswith("n OK")
    assert stored(imap.store) == ([], [])


def test_multiappend_over_quota_at_the_third_stores_none(imap):
    r = session(imap)
    m1, m2, m3 = msg(1, 6000), msg(2, 6000), msg(3, 9000)
    r.send(b"a APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s {%d+}\r\n%s\r\n"
           % (len(m1), m1, len(m2), m2, len(m3), m3))
    reply = r.until_tagged("a")[-1]
    assert reply.startswith("a NO [OVERQUOTA]"), reply
    assert r.cmd("NOOP", "n")[-1].startswith("n OK")
    assert stored(imap.store) == ([], [])
    # Two of them fit.
    r.send(b"b APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s\r\n"
           % (len(m1), m1, len(m2), m2))
    assert r.until_tagged("b")[-1].startswith("b OK [APPENDUID")
    assert stored(imap.store) == (["m1", "m2"], [])


def test_multiappend_client_gone_stores_none(imap):
    r = session(imap)
    m1, m2 = msg(1), msg(2)
    r.send(b"a APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s" % (
        len(m1), m1, len(m2) + 100, m2))
    r.close()
    deadline = time.time() + 10
    while time.time() < deadline and stored(imap.store) != ([], []):
        time.sleep(0.1)
    assert stored(imap.store) == ([], [])
    # And the folder still works.
    r = session(imap)
    assert r.cmd("SELECT INBOX", "s")[-1].startswith("s OK")
