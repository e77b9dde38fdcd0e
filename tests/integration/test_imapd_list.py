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


def _cpu_ticks(pid):
    """utime + stime of a process, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _make_folders(store, first, last):
    """Folders "Pnnnn.Cnnnn" (a child under a parent that is only a
    missing parent, half of the time) with every name subscribed."""
    names = []
    for i in range(first, last):
        name = "P%05d.C%05d" % (i // 2, i) if i % 2 else "F%05d" % i
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(store, "." + name, sub))
        names.append(name)
    with open(os.path.join(store, "subscriptions"), "a") as f:
        f.write("".join(n + "\n" for n in names))
    return names


def test_list_many_folders_is_n_log_n(make_instance, monkeypatch):
    """LIST and LSUB look each name up in a sorted set (log n), not in
    the whole list (n): the work of the same commands over 4 times as
    many folders grows about 4 times (n log n: under 6), never 16 times
    (n^2).  Work is the session process's CPU time (clock ticks), each
    command run several times so a tick is small beside it.  The
    instance lives on tmpfs when there is one: removing 10,000
    directories from a disk mounted with discard takes a minute."""
    import re
    import tempfile
    import time

    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        monkeypatch.setattr(tempfile, "tempdir", "/dev/shm")
    imap, imap.store = make_imap_instance(make_instance)

    commands = (("LIST", '""', '"*"'),
                ("LIST", '(SUBSCRIBED RECURSIVEMATCH) ""', '"*"'),
                ("LIST", '""', '"*" RETURN (SUBSCRIBED CHILDREN)'),
                ("LSUB", '""', '"%"'))
    c = login(imap)
    pid = None
    for _ in range(50):
        m = re.findall(r"imapd\[(\d+)\]: login user=", imap.log())
        if m:
            pid = int(m[-1])
            break
        time.sleep(0.1)
    assert pid, "no imapd login line in the log"

    def work(expect):
        before = _cpu_ticks(pid)
        for _ in range(3):
            for i, (verb, ref, pattern) in enumerate(commands):
                typ, data = (c.list if verb == "LIST" else c.lsub)(
                    ref, pattern)
                assert typ == "OK", data
                if i == 0:
                    assert len(data) == expect, len(data)
        return _cpu_ticks(pid) - before

    # INBOX and the folders made at provisioning, then ours and their
    # missing parents P...
    base = len(c.list()[1])
    _make_folders(imap.store, 0, 1250)

    small = work(base + 1250 + 625)
    _make_folders(imap.store, 1250, 5000)
    large = work(base + 5000 + 2500)
    # A floor of 10 ticks for the small run keeps a fast machine's
    # rounding from making the ratio look large.
    ratio = large / max(small, 10)
    print("LIST work: %d ticks at 1250 folders, %d at 5000 (x%.1f)"
          % (small, large, ratio))
    assert ratio < 10, (small, large)
    # And a generous absolute bound: 12 commands over 5,000 folders
    # (n^2 took 28 s here, n log n 2.4 s).
    assert large < 12 * os.sysconf("SC_CLK_TCK"), large
    c.logout()
