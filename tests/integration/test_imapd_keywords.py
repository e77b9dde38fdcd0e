"""imapd keywords: stored as Maildir letters a..z named by the folder's
dovecot-keywords file, as Dovecot stores them."""

import os

import pytest

from imapdutil import (Raw, deliver, files, login, make_imap_instance,
                       message)


@pytest.fixture
def imap(make_instance):
    inst, store = make_imap_instance(make_instance)
    inst.store = store
    return inst


def keyword_file(folder):
    with open(os.path.join(folder, "dovecot-keywords")) as f:
        return f.read()


def flags_of(c, seq="1"):
    typ, data = c.fetch(seq, "(FLAGS)")
    assert typ == "OK", data
    return data[-1].decode()    # after any unsolicited FETCH


def test_store_keywords_kept_on_disk_and_seen_by_others(imap):
    base = deliver(imap.store, message("one"))
    a, b = login(imap), login(imap)
    typ, _ = a.select("INBOX")
    assert typ == "OK"
    assert r"\*" in a.response("PERMANENTFLAGS")[1][0].decode()
    b.select("INBOX")
    typ, data = a.store("1", "+FLAGS", "($Junk Work)")
    assert typ == "OK" and b"$Junk" in data[0] and b"Work" in data[0], data
    # The new names were announced with the FLAGS list.
    assert b"$Junk" in a.response("FLAGS")[1][-1]
    assert keyword_file(imap.store) == "0 $Junk\n1 Work\n"
    assert files(imap.store)[base] == "ab"
    # Another session learns of the change and of the new names.
    typ, _ = b.noop()
    assert typ == "OK"
    assert b"Work" in b.response("FLAGS")[1][-1]
    f = flags_of(b)
    assert "$Junk" in f and "Work" in f, f
    # Flags and keywords together, in Maildir order (uppercase first).
    a.store("1", "+FLAGS", r"(\Seen later)")
    assert files(imap.store)[base] == "Sabc"
    a.store("1", "-FLAGS", "($Junk)")
    assert files(imap.store)[base] == "Sbc"
    b.noop()
    f = flags_of(b)
    assert "$Junk" not in f and "Work" in f and "later" in f, f
    # Replacing with FLAGS drops what is not named.
    a.store("1", "FLAGS", "(Work)")
    assert files(imap.store)[base] == "b"
    # Names are case-insensitive, as IMAP flags are.
    a.store("1", "+FLAGS", "(work)")
    assert keyword_file(imap.store) == "0 $Junk\n1 Work\n2 later\n"
    # A fresh SELECT lists them in FLAGS.
    c = login(imap)
    c.select("INBOX")
    assert b"later" in c.response("FLAGS")[1][-1]
    for s in (a, b, c):
        s.logout()


def test_search_append_copy_move_keep_keywords(imap):
    deliver(imap.store, message("one"))
    deliver(imap.store, message("two"))
    c = login(imap)
    c.select("INBOX")
    c.store("2", "+FLAGS", "(Todo)")
    assert c.search(None, "KEYWORD", "Todo") == ("OK", [b"2"])
    assert c.search(None, "KEYWORD", "todo") == ("OK", [b"2"])
    assert c.search(None, "UNKEYWORD", "Todo") == ("OK", [b"1"])
    assert c.search(None, "KEYWORD", "Unknown") == ("OK", [b""])
    assert c.search(None, "UNKEYWORD", "Unknown") == ("OK", [b"1 2"])
    # APPEND with a keyword and a flag.
    typ, _ = c.append("INBOX", r"(\Flagged Later)", None,
                      message("three").replace("\n", "\r\n").encode())
    assert typ == "OK"
    c.noop()
    f = flags_of(c, "3")
    assert "Later" in f and r"\Flagged" in f, f
    # COPY into a folder whose table differs: names kept, letters new.
    c.create("Other")
    other = os.path.join(imap.store, ".Other")
    with open(os.path.join(other, "dovecot-keywords"), "w") as f:
        f.write("0 First\n")
    assert c.copy("2", "Other")[0] == "OK"
    assert keyword_file(other) == "0 First\n1 Todo\n"
    assert list(files(other).values()) == ["b"]
    # MOVE renames into the target with its letters.
    assert c._simple_command("MOVE", "3", "Other")[0] == "OK"
    assert keyword_file(other) == "0 First\n1 Todo\n2 Later\n"
    assert sorted(files(other).values()) == ["Fc", "b"]
    c.select("Other")
    assert c.search(None, "KEYWORD", "Later") == ("OK", [b"2"])
    assert c.search(None, "KEYWORD", "Todo") == ("OK", [b"1"])
    c.logout()


def test_dovecot_keyword_file_and_bad_input(imap):
    # A table and letters as Dovecot leaves them, a damaged line too.
    with open(os.path.join(imap.store, "dovecot-keywords"), "w") as f:
        f.write("0 Old\njunk line\n3 Later\n99 Far\n2 bad\\name\n")
    name = "1700000000.M1P1Q1.host,S=10:2,Sd"
    with open(os.path.join(imap.store, "cur", name), "w") as f:
        f.write("Subject: x\n\nbody\n")
    c = login(imap)
    c.select("INBOX")
    f = flags_of(c)
    assert "Later" in f and r"\Seen" in f and "Old" not in f, f
    # A damaged line's letter is not given to a new name.
    c.store("1", "+FLAGS", "(New)")
    assert "New" in keyword_file(imap.store)
    assert keyword_file(imap.store).startswith("0 Old\n1 New\n3 Later\n")
    c.logout()
    r = Raw(imap)
    r.login()
    r.cmd("SELECT INBOX", "s")
    assert r.cmd(r"STORE 1 +FLAGS (\Unknown)")[-1].startswith("t1 BAD")
    assert r.cmd("STORE 1 +FLAGS (a]b)")[-1].startswith("t1 BAD")
    # All 26 letters used: the 27th keyword is refused, not lost.
    reply = r.cmd("STORE 1 +FLAGS (%s)" % " ".join(
        "k%d" % i for i in range(30)))
    assert reply[-1].startswith("t1 NO [LIMIT]"), reply
    lines = keyword_file(imap.store).splitlines()
    assert len(lines) == 26, lines
    r.close()
