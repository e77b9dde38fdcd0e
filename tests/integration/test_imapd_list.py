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
