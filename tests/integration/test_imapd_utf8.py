"""imapd UTF8=ACCEPT (RFC 6855): after ENABLE UTF8=ACCEPT, mailbox names
go both ways in UTF-8 (on disk they stay modified UTF-7, RFC 3501
5.1.3, so other clients and sessions see the same folders); before it,
modified UTF-7 only.  The expected modified UTF-7 forms are computed
here from RFC 3501's rule (UTF-16BE, base64 with ',' for '/', no
padding, between '&' and '-'; '&' itself as "&-")."""

import base64
import os

import pytest

from imapdutil import Raw, make_imap_instance


def mutf7(name):
    out, run = [], []

    def flush():
        if run:
            b = base64.b64encode("".join(run).encode("utf-16-be"))
            out.append("&" + b.decode().rstrip("=").replace("/", ",") + "-")
            run.clear()
    for ch in name:
        if 0x20 <= ord(ch) < 0x7f:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


NAMES = ["Präsentation", "Ünïcödé.Ordner", "Post 📬", "A&B", "日本語"]


@pytest.fixture
def imap(make_instance):
    inst, store = make_imap_instance(make_instance)
    inst.store = store
    return inst


def session(imap, enable):
    r = Raw(imap)
    assert r.login()[-1].startswith("L OK")
    if enable:
        lines = r.cmd("ENABLE UTF8=ACCEPT", "e")
        assert lines == ["* ENABLED UTF8=ACCEPT", "e OK Enabled"], lines
    return r


def cmd(r, text, tag="t"):
    r.send(("%s %s\r\n" % (tag, text)).encode())
    lines = []
    while True:
        line = r.line().encode("latin-1").decode("utf-8")
        lines.append(line)
        if line.startswith(tag + " "):
            return lines


def test_capability_and_enable(imap):
    r = session(imap, False)
    assert "UTF8=ACCEPT" in r.cmd("CAPABILITY", "c")[0].split()
    r = session(imap, True)
    # A second ENABLE enables nothing new (RFC 5161 3.1).
    assert r.cmd("ENABLE UTF8=ACCEPT", "e2")[0] == "* ENABLED"


def test_utf8_names_both_ways(imap):
    r = session(imap, True)
    for name in NAMES:
        lines = cmd(r, 'CREATE "%s"' % name, "c")
        assert lines[-1].startswith("c OK"), (name, lines)
        # On disk: modified UTF-7.
        assert os.path.isdir(os.path.join(imap.store, "." + mutf7(name),
                                          "cur")), (name, mutf7(name))
    lines = cmd(r, 'LIST "" "*"', "l")
    listed = {x.split(' "." ', 1)[1] for x in lines[:-1]}
    for name in NAMES:
        assert '"%s"' % name in listed, (name, lines)
    lines = cmd(r, 'STATUS "Präsentation" (MESSAGES)', "s")
    assert lines[0] == '* STATUS "Präsentation" (MESSAGES 0)', lines
    assert cmd(r, 'SELECT "Post 📬"', "x")[-1].startswith("x OK")
    # 8-bit header bytes in an APPEND into a UTF-8 named mailbox.
    msg = "Subject: Grüße\r\nFrom: jörg@bücher.example\r\n\r\nHallo\r\n"
    data = msg.encode()
    r.send(b'a APPEND "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" {%d+}\r\n%s\r\n'
           % (len(data), data))
    assert r.until_tagged("a")[-1].startswith("a OK [APPENDUID")
    folder = os.path.join(imap.store, "." + mutf7("日本語"), "cur")
    (only,) = os.listdir(folder)
    with open(os.path.join(folder, only), "rb") as f:
        assert f.read() == data.replace(b"\r\n", b"\n")
    lines = cmd(r, 'RENAME "A&B" "A&B neu"', "rn")
    assert lines[-1].startswith("rn OK"), lines
    assert os.path.isdir(os.path.join(imap.store, ".A&-B neu"))


def test_modified_utf7_without_enable(imap):
    r = session(imap, True)
    for name in NAMES:
        assert cmd(r, 'CREATE "%s"' % name, "c")[-1].startswith("c OK")
    r = session(imap, False)
    lines = r.cmd('LIST "" "*"', "l")
    listed = {x.split(' "." ', 1)[1] for x in lines[:-1]}
    for name in NAMES:
        assert '"%s"' % mutf7(name) in listed, (name, lines)
    # An 8-bit name without UTF8=ACCEPT is no mailbox name.
    r.send(b'c CREATE "Pr\xc3\xa4sentation2"\r\n')
    reply = r.until_tagged("c")[-1]
    assert reply.startswith("c NO") or reply.startswith("c BAD"), reply


def test_invalid_utf8_is_bad(imap):
    r = session(imap, True)
    for raw in (b"\xc3", b"\xe0\x80\x80", b"\xed\xa0\x80", b"a\x01b"):
        r.send(b'c CREATE "%s"\r\n' % raw)
        reply = r.until_tagged("c")[-1]
        assert reply.startswith("c BAD") or reply.startswith("c NO"), \
            (raw, reply)
    made = [d for d in os.listdir(imap.store) if d.startswith(".")
            and os.path.isdir(os.path.join(imap.store, d, "cur"))]
    assert not any("&" in d for d in made), made


def stored(imap, folder="INBOX"):
    """The messages of a folder's cur/ as bytes, oldest first."""
    cur = os.path.join(imap.store, "cur") if folder == "INBOX" else \
        os.path.join(imap.store, "." + mutf7(folder), "cur")
    out = []
    for name in sorted(os.listdir(cur)):
        with open(os.path.join(cur, name), "rb") as f:
            out.append(f.read())
    return out


UTF8_MSG = ("From: jörg@bücher.example\r\nTo: zoë@example.test\r\n"
            "Subject: Grüße\r\n\r\nHallo\x00 Welt\r\n").encode()


def test_append_utf8_literal8(imap):
    """RFC 6855 4: APPEND ... UTF8 (~{n}) once UTF8=ACCEPT is enabled;
    synchronising and LITERAL+, with flags and date, and in a
    MULTIAPPEND."""
    r = session(imap, True)
    # Synchronising: the "+" comes after the announcement.
    r.send(b'a1 APPEND INBOX (\\Seen) UTF8 (~{%d}\r\n' % len(UTF8_MSG))
    assert r.line().startswith("+ ")
    r.send(UTF8_MSG + b")\r\n")
    assert r.until_tagged("a1")[-1].startswith("a1 OK [APPENDUID")
    # LITERAL+, into a UTF-8 named mailbox, with a date.
    assert cmd(r, 'CREATE "Grüße"', "c")[-1].startswith("c OK")
    r.send('a2 APPEND "Grüße" () "01-Feb-2024 10:00:00 +0100" '
           'UTF8 (~{{{}+}}\r\n'.format(len(UTF8_MSG)).encode()
           + UTF8_MSG + b")\r\n")
    assert r.until_tagged("a2")[-1].startswith("a2 OK [APPENDUID")
    # MULTIAPPEND: a UTF8 message, then a plain literal, then UTF8 again.
    plain = b"Subject: plain\r\n\r\nbody\r\n"
    r.send(b"a3 APPEND INBOX UTF8 (~{%d+}\r\n%s) {%d+}\r\n%s"
           b" (\\Flagged) UTF8 (~{%d+}\r\n%s)\r\n"
           % (len(UTF8_MSG), UTF8_MSG, len(plain), plain, len(UTF8_MSG),
              UTF8_MSG))
    reply = r.until_tagged("a3")[-1]
    assert reply.startswith("a3 OK [APPENDUID"), reply
    want = UTF8_MSG.replace(b"\r\n", b"\n")
    inbox = stored(imap)
    assert len(inbox) == 4
    assert sorted(inbox) == sorted([want, want, want,
                                    plain.replace(b"\r\n", b"\n")])
    assert stored(imap, "Grüße") == [want]
    # The 8-bit header reads back byte for byte.
    assert cmd(r, "SELECT INBOX", "s")[-1].startswith("s OK")
    r.send(b"f FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n")
    lines = r.until_tagged("f")
    assert "Subject: Gr\xc3\xbc\xc3\x9fe" in lines, lines


def test_append_utf8_errors(imap):
    # Without ENABLE UTF8=ACCEPT the UTF8 form is BAD (RFC 6855 4), and
    # the session stays in step: the LITERAL+ data is read and dropped.
    r = session(imap, False)
    r.send(b"a1 APPEND INBOX UTF8 (~{%d+}\r\n%s)\r\n"
           % (len(UTF8_MSG), UTF8_MSG))
    assert r.until_tagged("a1")[-1].startswith("a1 BAD")
    assert r.cmd("NOOP", "n")[-1] == "n OK Completed"
    assert stored(imap) == []
    # A synchronising one is refused before the client sends it.
    r.send(b"a2 APPEND INBOX UTF8 (~{%d}\r\n" % len(UTF8_MSG))
    assert r.line().startswith("a2 BAD")
    assert r.cmd("NOOP", "n")[-1] == "n OK Completed"
    # Enabled, but without the closing parenthesis: BAD, nothing stored.
    r = session(imap, True)
    r.send(b"a3 APPEND INBOX UTF8 (~{%d+}\r\n%s\r\n"
           % (len(UTF8_MSG), UTF8_MSG))
    assert r.until_tagged("a3")[-1].startswith("a3 BAD")
    assert r.cmd("NOOP", "n")[-1] == "n OK Completed"
    assert stored(imap) == []
