"""imapd LIST shows a missing parent of an existing folder (".A.B" without
".A") as \\Noselect \\HasChildren, and SELECT of it answers NO."""

import os

import pytest

from imapdutil import login, make_imap_instance, no


@pytest.fixture
def imap(make_instance):
    inst, store = make_imap_instance(make_instance)
    inst.store = store
    return inst


def test_list_missing_parent(imap):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(imap.store, ".A.B.C", sub))
    c = login(imap)
    typ, data = c.list()
    assert typ == "OK"
    lines = {d.decode().rsplit(" ", 1)[1].strip('"'): d.decode()
             for d in data}
    assert {"INBOX", "A", "A.B", "A.B.C"} <= set(lines), data
    for name in ("A", "A.B"):
        assert "\\Noselect" in lines[name] and "\\HasChildren" in lines[name]
    assert "\\Noselect" not in lines["A.B.C"]
    assert "\\HasNoChildren" in lines["A.B.C"]
    typ, data = c.list('""', "A.%")
    assert len(data) == 1 and b"\\Noselect" in data[0], data
    no(c.select("A"))
    typ, data = c.select("A.B.C")
    assert typ == "OK"
    c.logout()


def test_list_status(imap):
    """RFC 5819: LIST ... RETURN (STATUS (items)) follows each selectable
    mailbox's LIST line with its STATUS, none for \\Noselect parents;
    bad items are BAD."""
    from imapdutil import Raw, deliver, message
    deliver(imap.store, message("one"))
    deliver(imap.store, message("two"))
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(imap.store, ".P.Kid", sub))
    deliver(os.path.join(imap.store, ".P.Kid"), message("three"))
    r = Raw(imap)
    r.login()
    lines = r.cmd('LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))', "l")
    assert lines[-1].startswith("l OK"), lines
    body = lines[:-1]
    i = next(n for n, l in enumerate(body) if l.endswith('"INBOX"')
             or l.endswith(" INBOX"))
    assert body[i + 1] == '* STATUS "INBOX" (MESSAGES 2 UNSEEN 2)', body
    k = next(n for n, l in enumerate(body) if l.endswith('"P.Kid"'))
    assert body[k + 1] == '* STATUS "P.Kid" (MESSAGES 1 UNSEEN 1)', body
    p = next(n for n, l in enumerate(body) if l.endswith('"P"'))
    assert "\\Noselect" in body[p] and not body[p + 1].startswith(
        "* STATUS"), body
    statuses = [l for l in body if l.startswith("* STATUS")]
    lists = [l for l in body if l.startswith("* LIST")]
    assert len(statuses) == len(lists) - 1, body
    lines = r.cmd('LIST "" "*" RETURN (STATUS (BOGUS))', "b")
    assert lines[-1].startswith("b BAD"), lines
    lines = r.cmd('LIST "" "*" RETURN (STATUS)', "b2")
    assert lines[-1].startswith("b2 BAD"), lines
    assert "LIST-STATUS" in r.cmd("CAPABILITY", "c")[0]
    r.close()


def test_create_special_use(imap):
    """RFC 6154 5.3: CREATE name (USE (attrs)); special use follows the
    name here, so a USE that the name does not carry is NO [USEATTR] and
    the mailbox is not created; unknown attributes are BAD."""
    from imapdutil import Raw
    import shutil
    shutil.rmtree(os.path.join(imap.store, ".Junk"))
    r = Raw(imap)
    r.login()
    assert "CREATE-SPECIAL-USE" in r.cmd("CAPABILITY", "c")[0]
    lines = r.cmd("CREATE Junk (USE (\\Junk))", "c1")
    assert lines[-1].startswith("c1 OK"), lines
    lines = r.cmd('LIST "" Junk', "l1")
    assert "\\Junk" in lines[0], lines
    lines = r.cmd("CREATE Receipts (USE (\\Archive))", "c2")
    assert lines[-1].startswith("c2 NO [USEATTR]"), lines
    assert not os.path.exists(os.path.join(imap.store, ".Receipts"))
    lines = r.cmd("CREATE Plain (USE ())", "c3")
    assert lines[-1].startswith("c3 OK"), lines
    lines = r.cmd("CREATE Other (USE (\\Bogus))", "c4")
    assert lines[-1].startswith("c4 BAD"), lines
    lines = r.cmd("CREATE Other (FOO (\\Junk))", "c5")
    assert lines[-1].startswith("c5 BAD"), lines
    r.close()
