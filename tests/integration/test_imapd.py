"""imapd: sessions, authentication, mailboxes, messages (imaplib and raw
sockets against a real instance with a provisioned mailbox)."""

import imaplib
import os
import re
import ssl
import time

import pytest

import tlsutil
from imapdutil import (USER, PASSWORD, Raw, deliver, files, login,
                       make_imap_instance, message, no)


@pytest.fixture
def imap(make_instance):
    inst, store = make_imap_instance(make_instance)
    inst.store = store
    return inst


def test_greeting_capability_logout(imap):
    c = imaplib.IMAP4("127.0.0.1", imap.port("imap"))
    assert "IMAP4REV1" in c.capabilities
    for cap in ("IDLE", "UIDPLUS", "MOVE", "NAMESPACE", "LITERAL+",
                "SASL-IR", "AUTH=PLAIN", "SPECIAL-USE", "QUOTA", "ID",
                "ENABLE", "UNSELECT", "CHILDREN"):
        assert cap in c.capabilities, cap
    typ, data = c.noop()
    assert typ == "OK"
    typ, data = c.logout()
    assert typ == "BYE"


def test_login_and_failures(imap):
    c = imaplib.IMAP4("127.0.0.1", imap.port("imap"))
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.login(USER, "wrong")
    typ, data = c.login(USER, PASSWORD)
    assert typ == "OK"
    # Commands that need a login are refused before it.
    r = Raw(imap)
    assert r.cmd("SELECT INBOX")[-1].startswith("t1 NO")
    assert r.cmd("LOGIN a")[-1].startswith("t1 BAD")
    # Three failures end the session (auth_failure_limit).
    for i in range(2):
        assert "AUTHENTICATIONFAILED" in r.cmd("LOGIN %s nope" % USER)[-1]
    lines = r.cmd("LOGIN %s nope" % USER)
    assert any(l.startswith("* BYE") for l in lines) or r.closed()


def test_authenticate_plain_with_and_without_sasl_ir(imap):
    import base64
    token = base64.b64encode(("\0%s\0%s" % (USER, PASSWORD)).encode()).decode()
    r = Raw(imap)
    lines = r.cmd("AUTHENTICATE PLAIN " + token)
    assert lines[-1].startswith("t1 OK"), lines
    r = Raw(imap)
    r.send("a AUTHENTICATE PLAIN\r\n")
    assert r.line().startswith("+")
    r.send(token + "\r\n")
    assert r.until_tagged("a")[-1].startswith("a OK")
    r = Raw(imap)
    r.send("a AUTHENTICATE PLAIN\r\n")
    assert r.line().startswith("+")
    r.send("*\r\n")
    assert r.until_tagged("a")[-1].startswith("a BAD")
    assert r.cmd("AUTHENTICATE PLAIN !!!notbase64")[-1].startswith("t1 BAD")
    assert r.cmd("AUTHENTICATE CRAM-MD5")[-1].startswith("t1 NO")


def test_logindisabled_until_starttls(make_instance):
    certs = tlsutil.make_certs()
    inst, store = make_imap_instance(make_instance, tls=certs, params={
        "auth_allow_plaintext": "no"})
    c = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    assert "LOGINDISABLED" in c.capabilities
    assert "STARTTLS" in c.capabilities
    assert "AUTH=PLAIN" not in c.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
        c.login(USER, PASSWORD)
    ctx = tlsutil.client_context(certs)
    c.starttls(ssl_context=ctx)
    typ, caps = c.capability()
    assert b"LOGINDISABLED" not in caps[0] and b"STARTTLS" not in caps[0]
    assert c.login(USER, PASSWORD)[0] == "OK"
    c.select()
    c.logout()


def test_implicit_tls(make_instance):
    import harness
    certs = tlsutil.make_certs()
    inst, store = make_imap_instance(
        make_instance, tls=certs, params={"auth_allow_plaintext": "no"},
        services_extra=[harness.Service(
            "imaps", "imapd/imapd", options={"tls_wrapper_mode": "yes"})])
    c = imaplib.IMAP4_SSL("127.0.0.1", inst.port("imaps"),
                          ssl_context=tlsutil.client_context(certs))
    assert "AUTH=PLAIN" in c.capabilities
    assert c.login(USER, PASSWORD)[0] == "OK"
    c.logout()


def test_select_fetch_and_recent(imap):
    b1 = deliver(imap.store, message("one"))
    b2 = deliver(imap.store, message("two", body="x" * 100 + "\n"))
    c = login(imap)
    typ, data = c.select("INBOX")
    assert typ == "OK" and data == [b"2"]
    assert c.untagged_responses.get("RECENT") == [b"2"]
    uidvalidity = int(c.untagged_responses["UIDVALIDITY"][0])
    assert c.untagged_responses["UIDNEXT"] == [b"3"]
    # The session that saw them moved them to cur/.
    assert files(imap.store) == {b1: "", b2: ""}
    typ, data = c.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE)")
    assert typ == "OK"
    text = b" ".join(d if isinstance(d, bytes) else d[0] for d in data)
    assert b"UID 1 " in text and b"UID 2 " in text
    assert b"\\Recent" in text
    raw = message("one").replace("\n", "\r\n").encode()
    typ, data = c.fetch("1", "(BODY.PEEK[])")
    assert data[0][1] == raw
    assert b"RFC822.SIZE %d" % len(raw) in c.fetch("1", "RFC822.SIZE")[1][0]
    typ, data = c.fetch("1", "(BODY.PEEK[]<5.10>)")
    assert data[0][1] == raw[5:15]
    assert b"BODY[]<5>" in data[0][0]
    typ, data = c.fetch("2", "(BODY.PEEK[HEADER])")
    assert data[0][1].endswith(b"\r\n\r\n")
    assert data[0][1].startswith(b"From: Bob")
    typ, data = c.fetch("2", "(BODY.PEEK[TEXT])")
    assert data[0][1] == b"x" * 100 + b"\r\n"
    typ, data = c.fetch("1", "(FLAGS)")
    assert b"\\Seen" not in data[0]
    typ, data = c.fetch("1", "(BODY[TEXT])")       # sets \Seen
    assert b"\\Seen" in b" ".join(d[0] if isinstance(d, tuple) else d
                                  for d in data)
    assert files(imap.store)[b1] == "S"
    typ, data = c.fetch("1:2", "(INTERNALDATE ENVELOPE BODYSTRUCTURE)")
    assert typ == "OK" and b"INTERNALDATE" in data[0]
    assert (b'ENVELOPE ("Mon, 7 Feb 1994 21:52:25 -0800" "one" '
            b'(("Bob" NIL "bob" "remote.test"))') in data[0]
    assert b'BODYSTRUCTURE ("text" "plain"' in data[0]
    c.logout()
    # A second session: same UIDs, nothing is recent any more.
    c = login(imap)
    c.select("INBOX")
    assert c.untagged_responses.get("RECENT") == [b"0"]
    assert int(c.untagged_responses["UIDVALIDITY"][0]) == uidvalidity
    assert c.uid("SEARCH", "ALL")[1] == [b"1 2"]
    c.logout()


def test_store_expunge_and_flags_on_disk(imap):
    bases = [deliver(imap.store, message("m%d" % i)) for i in range(5)]
    c = login(imap)
    c.select()
    typ, data = c.store("1:2", "+FLAGS", r"(\Flagged \Seen)")
    assert typ == "OK" and len(data) == 2
    assert files(imap.store)[bases[0]] == "FS"
    c.store("2", "-FLAGS.SILENT", r"\Seen")
    assert files(imap.store)[bases[1]] == "F"
    c.store("1", "FLAGS", r"(\Answered \Draft)")
    assert files(imap.store)[bases[0]] == "DR"
    typ, data = c.uid("STORE", "3,5", "+FLAGS", r"(\Deleted)")
    assert b"UID 3" in data[0]
    typ, data = c.expunge()
    assert data == [b"3", b"4"]
    with pytest.raises(imaplib.IMAP4.error):
        c.store("1", "+FLAGS", r"(\Bogus)")
    assert set(files(imap.store)) == {bases[0], bases[1], bases[3]}
    assert c.uid("SEARCH", "ALL")[1] == [b"1 2 4"]
    # UID EXPUNGE removes only the named ones.
    c.store("1:3", "+FLAGS", r"\Deleted")
    c.untagged_responses.clear()
    typ, data = c._simple_command("UID", "EXPUNGE", "4")
    assert typ == "OK"
    assert c.untagged_responses.pop("EXPUNGE") == [b"3"]
    c.close()               # expunges the rest silently
    assert files(imap.store) == {}
    c.logout()


def test_examine_is_read_only(imap):
    b = deliver(imap.store, message("ro"))
    c = login(imap)
    typ, data = c.select("INBOX", readonly=True)
    assert typ == "OK"
    assert files(imap.store) == {b: None}      # still in new/
    no(c.store("1", "+FLAGS", r"\Seen"), "read-only")
    c.fetch("1", "(BODY[])")
    assert files(imap.store) == {b: None}
    c.logout()


def test_append_literals_and_appenduid(imap):
    c = login(imap)
    msg = message("appended").replace("\n", "\r\n").encode()
    typ, data = c.append("INBOX", r"(\Seen \Flagged)",
                         '"05-Jan-2021 10:20:30 +0100"', msg)
    assert typ == "OK"
    m = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
    assert m and m.group(2) == b"1"
    name = [n for n in os.listdir(os.path.join(imap.store, "cur"))][0]
    assert name.endswith(":2,FS")
    st = os.stat(os.path.join(imap.store, "cur", name))
    assert int(st.st_mtime) == 1609838430      # 09:20:30 UTC
    with open(os.path.join(imap.store, "cur", name), "rb") as f:
        assert f.read() == msg.replace(b"\r\n", b"\n")
    c.select()
    typ, data = c.fetch("1", "(BODY.PEEK[] INTERNALDATE)")
    assert data[0][1] == msg
    no(c.append("Nonexistent", None, None, msg), "TRYCREATE")
    c.logout()
    # LITERAL+: no continuation; then a sync literal mailbox name.
    r = Raw(imap)
    r.login()
    body = b"Subject: plus\r\n\r\nbody\r\n"
    r.send(b"a APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n")
    assert r.until_tagged("a")[-1].startswith("a OK [APPENDUID")
    r.send(b"b APPEND {5}\r\n")
    assert r.line().startswith("+")
    r.send(b"INBOX {%d}\r\n" % len(body))
    assert r.line().startswith("+")
    r.send(body + b"\r\n")
    assert r.until_tagged("b")[-1].startswith("b OK")
    # Junk after the literal (no MULTIAPPEND) is refused; nothing stored.
    r.send(b"c APPEND INBOX {%d+}\r\n" % len(body) + body + b" junk\r\n")
    assert r.until_tagged("c")[-1].startswith("c BAD")
    assert len(files(imap.store)) == 3
    assert r.cmd("NOOP")[-1].startswith("t1 OK")


def test_append_size_limit(make_instance):
    inst, store = make_imap_instance(make_instance, params={
        "imap_message_size_limit": "1k"})
    r = Raw(inst)
    r.login()
    r.send(b"a APPEND INBOX {5000}\r\n")
    assert r.line().startswith("a NO [TOOBIG]")
    body = b"x" * 2000
    r.send(b"b APPEND INBOX {2000+}\r\n" + body + b"\r\n")
    assert r.until_tagged("b")[-1].startswith("b NO [TOOBIG]")
    assert r.cmd("NOOP")[-1].startswith("t1 OK")
    assert files(store) == {}


def test_copy_move_uidplus(imap):
    for i in range(3):
        deliver(imap.store, message("c%d" % i))
    c = login(imap)
    c.select()
    c.store("2", "+FLAGS", r"\Flagged")
    typ, data = c.copy("1:2", "Trash")
    assert typ == "OK"
    assert re.search(rb"COPYUID \d+ 1:2 1:2", data[0]), data
    trash = os.path.join(imap.store, ".Trash")
    assert sorted(files(trash).values()) == ["F", "S"] or \
        sorted(files(trash).values()) == ["", "F"]
    assert len(files(imap.store)) == 3
    typ, data = c._simple_command("MOVE", "3", "Drafts")
    assert typ == "OK"
    assert c.untagged_responses.get("EXPUNGE") == [b"3"]
    assert len(files(os.path.join(imap.store, ".Drafts"))) == 1
    assert len(files(imap.store)) == 2
    typ, data = c._simple_command("UID", "MOVE", "1", "Junk")
    assert typ == "OK"
    no(c.copy("1", "Nope"), "TRYCREATE")
    c.select("Trash")
    typ, data = c.fetch("1:2", "(FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])")
    subjects = sorted(d[1] for d in data if isinstance(d, tuple))
    assert subjects == [b"Subject: c0\r\n\r\n", b"Subject: c1\r\n\r\n"]
    c.logout()


def test_folders_list_create_rename_delete(imap):
    c = login(imap)
    typ, data = c.list()
    names = {re.search(rb'"\." "?([^"]*)"?$', d).group(1): d for d in data}
    assert set(names) == {b"INBOX", b"Sent", b"Drafts", b"Junk", b"Trash"}
    assert b"\\Sent" in names[b"Sent"] and b"\\Trash" in names[b"Trash"]
    assert b"\\HasNoChildren" in names[b"INBOX"]
    assert c.create("Work.Projects.2024")[0] == "OK"
    assert c.create("Work")[0] == "NO"
    assert c.create("&ZeVnLIqe-")[0] == "OK"       # modified UTF-7
    assert c.create("&Jjo")[0] == "NO"             # broken mUTF-7
    assert c.create("a..b")[0] == "NO"
    assert c.create("../escape")[0] == "NO"
    typ, data = c.list('""', "Work.%")
    assert data == [b'(\\HasChildren) "." "Work.Projects"']
    typ, data = c.list('""', "%")
    assert b'(\\HasChildren) "." "Work"' in data
    assert not any(b"Projects" in d for d in data)
    deliver(os.path.join(imap.store, ".Work.Projects"), message("p"))
    # RENAME of a folder with children carries them along.
    assert c.rename("Work", "Archive.Old")[0] == "OK"
    typ, data = c.list('""', "Archive*")
    got = sorted(re.search(rb'"\." "(.*)"$', d).group(1) for d in data)
    assert got == [b"Archive", b"Archive.Old", b"Archive.Old.Projects",
                   b"Archive.Old.Projects.2024"]
    typ, data = c.status("Archive.Old.Projects", "(MESSAGES UNSEEN RECENT)")
    assert b"MESSAGES 1" in data[0] and b"UNSEEN 1" in data[0]
    assert c.delete("Archive.Old")[0] == "NO"     # has children
    assert c.delete("Archive.Old.Projects.2024")[0] == "OK"
    assert c.delete("Nope")[0] == "NO"
    assert c.delete("INBOX")[0] == "NO"
    assert not os.path.exists(os.path.join(imap.store,
                                           ".Archive.Old.Projects.2024"))
    # Subscriptions.
    assert c.subscribe("Sent")[0] == "OK"
    assert c.subscribe("Archive.Old")[0] == "OK"
    typ, data = c.lsub('""', "*")
    assert b'() "." "Archive.Old"' in data and b'() "." "Sent"' in data
    for name in ("Sent", "Drafts", "Junk", "Trash"):   # store_create's
        assert c.unsubscribe(name)[0] == "OK"
    assert c.lsub('""', "*")[1] == [b'() "." "Archive.Old"']
    typ, data = c._simple_command("LIST", "(SUBSCRIBED)", '""', '"*"')
    assert typ == "OK"
    lst = c.untagged_responses.pop("LIST")
    assert lst == [b'(\\HasChildren \\Subscribed) "." "Archive.Old"']
    typ, data = c._simple_command("LIST", '""', '"*"', "RETURN",
                                  "(SPECIAL-USE)")
    assert typ == "OK"
    # RENAME INBOX moves its messages to the new folder; INBOX stays.
    deliver(imap.store, message("in"))
    assert c.rename("INBOX", "Old-Inbox")[0] == "OK"
    assert files(imap.store) == {}
    assert len(files(os.path.join(imap.store, ".Old-Inbox"))) == 1
    c.logout()


def test_namespace_id_enable_quota(make_instance):
    inst, store = make_imap_instance(make_instance, quota=1048576)
    deliver(store, message("q", body="y" * 5000 + "\n"))
    c = login(inst)
    typ, data = c.namespace()
    assert data == [b'(("" ".")) NIL NIL']
    typ, data = c.xatom("ID", '("name" "test")')
    assert typ == "OK"
    assert c.untagged_responses.pop("ID")[0].startswith(b'("name"')
    typ, data = c.enable("CONDSTORE")
    assert typ == "OK"
    typ, data = c.getquotaroot("INBOX")
    assert typ == "OK"
    quota = [d for d in data[1] if b"STORAGE" in d][0]
    assert b"STORAGE 0 1024" in quota or b"STORAGE 6 1024" in quota or \
        re.search(rb"STORAGE \d+ 1024", quota)
    assert c.getquota('""')[0] == "OK"
    no(c.setquota('""', "(STORAGE 5)"))
    c.logout()


def test_uids_stable_and_damaged_list_rebuilt(imap):
    for i in range(3):
        deliver(imap.store, message("u%d" % i))
    c = login(imap)
    c.select()
    v1 = int(c.untagged_responses["UIDVALIDITY"][0])
    c.store("2", "+FLAGS", r"\Deleted")
    c.expunge()
    c.logout()
    deliver(imap.store, message("u3"))
    c = login(imap)
    c.select()
    assert int(c.untagged_responses["UIDVALIDITY"][0]) == v1
    assert c.uid("SEARCH", "ALL")[1] == [b"1 3 4"]
    c.logout()
    listing = os.path.join(imap.store, "ispmail-uidlist")
    with open(listing) as f:
        assert f.readline().startswith("ispmail-uidlist 1 %d 5" % v1)
    with open(listing, "w") as f:
        f.write("garbage\n")
    c = login(imap)
    c.select()
    v2 = int(c.untagged_responses["UIDVALIDITY"][0])
    assert v2 > v1
    assert c.uid("SEARCH", "ALL")[1] == [b"1 2 3"]
    c.logout()
    assert "damaged" in imap.log()


def test_search_keys(imap):
    deliver(imap.store, message("apple pie", body="crust and filling\n"))
    deliver(imap.store, message("banana", sender="carol@remote.test",
                                body="yellow\n" * 200))
    deliver(imap.store, message("cherry", extra="X-Tag: special\n"))
    c = login(imap)
    c.select()
    c.store("1", "+FLAGS", r"\Seen")
    c.store("3", "+FLAGS", r"\Flagged")

    def s(*crit, uid=False):
        typ, data = (c.uid("SEARCH", *crit) if uid else c.search(None, *crit))
        assert typ == "OK", crit
        return data[0].split()

    assert s("ALL") == [b"1", b"2", b"3"]
    assert s("SEEN") == [b"1"]
    assert s("UNSEEN") == [b"2", b"3"]
    assert s("FLAGGED") == [b"3"]
    assert s("NOT", "FLAGGED") == [b"1", b"2"]
    assert s("OR", "SEEN", "FLAGGED") == [b"1", b"3"]
    assert s("SUBJECT", "BANANA") == [b"2"]
    assert s("FROM", "carol") == [b"2"]
    assert s("TO", "alice") == [b"1", b"2", b"3"]
    assert s("HEADER", "X-Tag", "spec") == [b"3"]
    assert s("BODY", "filling") == [b"1"]
    assert s("TEXT", "cherry") == [b"3"]
    assert s("LARGER", "1000") == [b"2"]
    assert s("SMALLER", "1000") == [b"1", b"3"]
    assert s("SENTON", "7-Feb-1994") == [b"1", b"2", b"3"]
    assert s("SENTBEFORE", "1-Jan-1990") == []
    assert s("SINCE", "1-Jan-2000") == [b"1", b"2", b"3"]
    assert s("BEFORE", "1-Jan-2000") == []
    assert s("2:*") == [b"2", b"3"]
    assert s("UID", "1,3") == [b"1", b"3"]
    assert s("(SEEN FLAGGED)") == []
    assert s("RECENT") == [b"1", b"2", b"3"]
    assert s("NEW") == [b"2", b"3"]
    assert s("KEYWORD", "foo") == []
    assert s("ALL", uid=True) == [b"1", b"2", b"3"]
    typ, data = c.search("UTF-8", "SUBJECT", "apple")
    assert data == [b"1"]
    no(c.search("KOI8-R", "ALL"), "BADCHARSET")
    for bad in (("SINCE", "yesterday"), ("LARGER", "x"), ("OR", "SEEN"),
                ("BOGUS",), ("HEADER", "X")):
        with pytest.raises(imaplib.IMAP4.error):
            c.search(None, *bad)
    c.logout()


def test_search_10000_messages(imap):
    cur = os.path.join(imap.store, "cur")
    now = int(time.time())
    for i in range(10000):
        data = ("Subject: m%d\nFrom: x%d@remote.test\n\nbody %d\n"
                % (i, i % 7, i)).encode()
        name = "%d.M%06dP1Q%d.bulk,S=%d,W=%d:2,%s" % (
            now - 20000 + i, i, i, len(data), len(data) + data.count(b"\n"),
            "S" if i % 2 else "")
        with open(os.path.join(cur, name), "wb") as f:
            f.write(data)
    c = login(imap)
    t0 = time.monotonic()
    typ, data = c.select()
    assert data == [b"10000"]
    typ, data = c.search(None, "UNSEEN")
    assert len(data[0].split()) == 5000
    typ, data = c.search(None, "FROM", "x3@")
    assert len(data[0].split()) == len([i for i in range(10000) if i % 7 == 3])
    typ, data = c.search(None, "SUBJECT", "m9999")
    assert data == [b"10000"]
    typ, data = c.fetch("1:*", "(UID FLAGS)")
    assert len(data) == 10000
    assert time.monotonic() - t0 < 30
    c.logout()


def test_concurrent_sessions_see_changes(imap):
    deliver(imap.store, message("first"))
    a = login(imap)
    b = login(imap)
    a.select()
    b.select()
    a.untagged_responses.clear()
    b.untagged_responses.clear()
    # Delivery between commands: both learn of it at their next command.
    deliver(imap.store, message("second"))
    typ, data = a.noop()
    assert a.untagged_responses.get("EXISTS") == [b"2"], \
        a.untagged_responses
    # \Recent counts a's first message too (a took both from new/).
    assert a.untagged_responses.get("RECENT") == [b"2"]
    b.noop()
    assert b.untagged_responses.get("EXISTS") == [b"2"]
    assert b.untagged_responses.get("RECENT") == [b"0"]
    # A flag change in one session shows up as FETCH in the other.
    a.store("1", "+FLAGS", r"\Flagged")
    b.noop()
    fetches = b.untagged_responses.pop("FETCH", [])
    assert any(b"\\Flagged" in f for f in fetches), fetches
    # An expunge is not sent during FETCH, STORE, SEARCH, but at NOOP.
    a.store("1", "+FLAGS", r"\Deleted")
    a.expunge()
    b.untagged_responses.clear()
    typ, data = b.fetch("1", "(FLAGS)")
    assert "EXPUNGE" not in b.untagged_responses
    b.search(None, "ALL")
    assert "EXPUNGE" not in b.untagged_responses
    b.noop()
    assert b.untagged_responses.get("EXPUNGE") == [b"1"]
    typ, data = b.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"second" in data[0][1]
    a.logout()
    b.logout()


def test_idle_notifications(imap):
    r = Raw(imap)
    r.login()
    assert r.cmd("SELECT INBOX")[-1].startswith("t1 OK")
    r.send("i IDLE\r\n")
    assert r.line().startswith("+ ")
    deliver(imap.store, message("during idle"))
    lines = [r.line(), r.line()]
    assert lines == ["* 1 EXISTS", "* 1 RECENT"]
    other = login(imap)
    other.select()
    other.store("1", "+FLAGS", r"\Answered")
    line = r.line()
    assert "FETCH" in line and "\\Answered" in line, line
    other.store("1", "+FLAGS", r"\Deleted")
    other.expunge()
    # IDLE is pushed at once (inotify): the \Deleted may come on its
    # own before the EXPUNGE.
    line = r.line()
    if "FETCH" in line:
        assert "\\Deleted" in line, line
        line = r.line()
    assert line == "* 1 EXPUNGE"
    r.send("DONE\r\n")
    assert r.until_tagged("i")[-1].startswith("i OK")
    other.logout()


def test_malformed_input(imap):
    r = Raw(imap)
    r.login()
    r.cmd("SELECT INBOX")
    assert r.cmd("FETCH 1 (FLAGS")[-1].startswith("t1 BAD")
    assert r.cmd("FETCH 1 FLAGS)")[-1].startswith("t1 BAD")
    assert r.cmd("FETCH 1 (((((FLAGS)))))")[-1].startswith("t1 BAD")
    assert r.cmd("FETCH 0 FLAGS")[-1].startswith("t1 BAD")
    assert r.cmd("FETCH 1:x FLAGS")[-1].startswith("t1 BAD")
    assert r.cmd("FETCH 1,,2 FLAGS")[-1].startswith("t1 BAD")
    assert r.cmd("FETCH 99999999999 FLAGS")[-1].startswith("t1 BAD")
    assert r.cmd("UID FETCH 5:* FLAGS")[-1].startswith("t1 OK")
    assert r.cmd('SELECT "INBOX')[-1].startswith("t1 BAD")
    assert r.cmd("FROBNICATE")[-1].startswith("t1 BAD")
    r.send("\r\n")
    assert r.line().startswith("* BAD")
    # A literal that lies about its size: the rest is taken as commands.
    r.send("x LOGIN {3}\r\n")
    assert r.line().startswith("+")
    r.send("ab\r\n")
    line = r.line()
    assert line.startswith("x BAD") or line.startswith("x NO"), line
    # Over-long line.
    r.send("y NOOP " + "a" * 70000 + "\r\n")
    assert r.line().startswith("* BAD [TOOBIG]")
    # A literal bigger than the command limit.
    r.send("z SELECT {999999}\r\n")
    assert r.line().startswith("z BAD [TOOBIG]")
    assert r.cmd("NOOP")[-1].startswith("t1 OK")
    # Deep nesting is refused.
    assert r.cmd("FETCH 1 " + "(" * 50 + ")" * 50)[-1].startswith("t1 BAD")
    # NUL in a quoted string, 8-bit in an atom.
    assert r.cmd('SELECT "IN\x00BOX"')[-1].startswith("t1 BAD")
    r.close()


def test_bad_command_limit_and_timeout(make_instance):
    inst, store = make_imap_instance(make_instance, params={
        "imap_bad_command_limit": "3", "imap_timeout": "2s"})
    r = Raw(inst)
    for i in range(3):
        r.send("a%d BOGUS\r\n" % i)
    lines = [r.line() for _ in range(4)]
    assert lines[-1].startswith("* BYE")
    assert r.closed()
    r = Raw(inst)
    time.sleep(3)
    assert r.line().startswith("* BYE Autologout")
    assert r.closed()


def test_multipart_sections(imap):
    text = ("From: a@b.test\nSubject: mp\nMIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=XX\n\npreamble\n"
            "--XX\nContent-Type: text/plain; charset=utf-8\n\nfirst part\n"
            "--XX\nContent-Type: text/html\nContent-Transfer-Encoding: "
            "base64\n\nPGI+aGk8L2I+\n--XX--\n")
    deliver(imap.store, text)
    c = login(imap)
    c.select()
    typ, data = c.fetch("1", "(BODY.PEEK[1] BODY.PEEK[2.MIME] "
                        "BODY.PEEK[HEADER.FIELDS (Subject)] BODYSTRUCTURE)")
    assert typ == "OK"
    parts = {re.search(rb"(BODY\[[^\]]*\])", d[0]).group(1): d[1]
             for d in data if isinstance(d, tuple)}
    assert parts[b"BODY[1]"] == b"first part"
    assert parts[b"BODY[2.MIME]"].startswith(b"Content-Type: text/html")
    assert parts[b"BODY[HEADER.FIELDS (Subject)]"] == b"Subject: mp\r\n\r\n"
    flat = b" ".join(d[0] if isinstance(d, tuple) else d for d in data)
    assert b'"mixed"' in flat and b'"base64"' in flat
    typ, data = c.fetch("1", "(BODY.PEEK[3])")
    assert typ == "OK"
    typ, data = c.fetch("1", "(BODY.PEEK[1]<0.5>)")
    assert data[0][1] == b"first"
    with pytest.raises(imaplib.IMAP4.error):
        c.fetch("1", "(BODY[x.y])")
    c.logout()


def test_envelope_from_header_block_at_read_edges(imap):
    """FETCH ENVELOPE reads the header block alone (one read of 16 KiB
    when it fits): headers ending just before, at and after that read's
    end, a folded To: across it, much longer headers, messages that are
    all header, and a file name without W= (RFC822.SIZE then needs the
    whole file) give the envelope of the full parse (ENVELOPE with BODY
    in one FETCH), and the right size."""
    edge = 16 * 1024
    prefix = "From: Bob <bob@remote.test>\nTo: Alice <alice@x.test>\n"

    def sized(total, subject, blank=True):
        # prefix + "X-Pad: " + pad + "\n" + "Subject: s\n" [+ "\n"] = total
        tail = "Subject: %s\n" % subject + ("\n" if blank else "")
        pad = total - len(prefix) - len("X-Pad: \n") - len(tail)
        return prefix + "X-Pad: " + "p" * pad + "\n" + tail

    texts = {}
    for delta in (-2, -1, 0, 1, 2):
        texts["end %d" % delta] = sized(edge + delta, "end %d" % delta) \
            + "body\n"
    # The continuation of To: starts exactly at the read's end.
    head = prefix.replace("To: Alice <alice@x.test>\n", "")
    pad = edge - len(head) - len("X-Pad: \n") - len("To: c@d.test,\n")
    texts["fold"] = (head + "X-Pad: " + "p" * pad + "\nTo: c@d.test,\n"
                     " e@f.test\nSubject: fold\n\nbody\n")
    texts["long"] = sized(40000, "long") + "body\n"
    texts["all header"] = sized(edge, "all header", blank=False)
    texts["all header long"] = sized(edge + 5000, "all header long",
                                     blank=False)
    texts["small"] = message("small")
    names = {}
    for key, text in texts.items():
        names[key] = deliver(imap.store, text)
    # A file name without W=: the size comes from the whole file.
    plain = os.path.join(imap.store, "new", "1.M1P1Q1.plain")
    with open(plain, "w") as f:
        f.write(texts["end 1"].replace("end 1", "plain"))
    texts["plain"] = texts["end 1"].replace("end 1", "plain")
    c = login(imap)
    c.select("INBOX")
    count = len(texts)
    typ, alone = c.fetch("1:*", "(ENVELOPE RFC822.SIZE)")
    assert typ == "OK" and len(alone) == count
    typ, full = c.fetch("1:*", "(ENVELOPE BODY)")
    assert typ == "OK" and len(full) == count
    seen = set()
    for a, f in zip(alone, full):
        m = re.match(rb"(\d+) \((ENVELOPE .*) RFC822\.SIZE (\d+)\)$", a)
        assert m, a
        assert f.startswith(m.group(1) + b" (" + m.group(2) + b" BODY ("), \
            (a[:200], f[:200])
        subject = re.match(rb'ENVELOPE \((?:NIL|"[^"]*") "([^"]*)"',
                           m.group(2)).group(1).decode()
        seen.add(subject)
        raw = texts[subject].replace("\n", "\r\n").encode()
        assert int(m.group(3)) == len(raw), subject
        if subject == "fold":
            assert (b'((NIL NIL "c" "d.test")(NIL NIL "e" "f.test"))'
                    in m.group(2))
        else:
            assert b'(("Bob" NIL "bob" "remote.test"))' in m.group(2)
    assert seen == set(texts)
    c.logout()
