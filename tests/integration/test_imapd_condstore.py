"""imapd CONDSTORE and QRESYNC (RFC 7162): MODSEQs that persist across
sessions and processes, FETCH CHANGEDSINCE, STORE UNCHANGEDSINCE with
MODIFIED, STATUS HIGHESTMODSEQ, and a QRESYNC client that reconnects
after another session's flag changes and expunges (and a delivery and a
file deleted behind imapd's back) and sees exactly those."""

import os
import re

import pytest

from imapdutil import Raw, deliver, make_imap_instance, message


@pytest.fixture
def imap(make_instance):
    inst, store = make_imap_instance(make_instance)
    inst.store = store
    return inst


def raw(imap, *enable):
    r = Raw(imap)
    assert r.login()[-1].startswith("L OK")
    if enable:
        lines = r.cmd("ENABLE " + " ".join(enable), "e")
        assert lines[-1].startswith("e OK"), lines
    return r


def ok(r, text, tag="t"):
    lines = r.cmd(text, tag)
    assert lines[-1].startswith(tag + " OK"), lines
    return lines[:-1]


def code(lines, name):
    for line in lines:
        m = re.search(r"\[%s (\d+)\]" % name, line)
        if m:
            return int(m.group(1))
    raise AssertionError("no %s in %r" % (name, lines))


def fetches(lines):
    """{uid: (flags, modseq)} of the FETCH responses among lines."""
    out = {}
    for line in lines:
        m = re.match(r"\* \d+ FETCH \((.*)\)$", line)
        if not m:
            continue
        body = m.group(1)
        uid = int(re.search(r"UID (\d+)", body).group(1))
        flags = re.search(r"FLAGS \(([^)]*)\)", body)
        modseq = re.search(r"MODSEQ \((\d+)\)", body)
        out[uid] = (set(flags.group(1).split()) - {"\\Recent"}
                    if flags else None,
                    int(modseq.group(1)) if modseq else None)
    return out


def vanished(lines, earlier):
    prefix = "* VANISHED (EARLIER) " if earlier else "* VANISHED "
    uids = []
    for line in lines:
        if line.startswith(prefix) and (earlier or "(EARLIER)" not in line):
            for part in line[len(prefix):].split(","):
                lo, _, hi = part.partition(":")
                uids.extend(range(int(lo), int(hi or lo) + 1))
    return sorted(uids)


def unlink_message(store, marker):
    """Delete the file holding marker behind imapd's back (as popd or a
    shell would)."""
    for name in os.listdir(os.path.join(store, "cur")):
        path = os.path.join(store, "cur", name)
        with open(path) as f:
            if marker in f.read():
                os.unlink(path)
                return
    raise AssertionError("no message with %r" % marker)


def first_session(imap, prefix, count):
    """Deliver count messages (subjects prefix0, prefix1, ...), select
    them in a QRESYNC session and leave; (UIDVALIDITY, HIGHESTMODSEQ)."""
    for i in range(count):
        deliver(imap.store, message("%s%d" % (prefix, i)))
    a = raw(imap, "QRESYNC")
    lines = ok(a, "SELECT INBOX", "s")
    ok(a, "LOGOUT", "z")
    return code(lines, "UIDVALIDITY"), code(lines, "HIGHESTMODSEQ")


def test_capability_and_enable(imap):
    r = raw(imap)
    caps = ok(r, "CAPABILITY", "c")[0]
    assert " CONDSTORE" in caps and " QRESYNC" in caps, caps
    assert ok(r, "ENABLE QRESYNC", "e1") == ["* ENABLED QRESYNC"]
    # Already on (QRESYNC implies CONDSTORE): nothing newly enabled.
    assert ok(r, "ENABLE CONDSTORE X-UNKNOWN", "e2") == ["* ENABLED"]
    r2 = raw(imap)
    lines = r2.cmd("SELECT INBOX (QRESYNC (1 1))", "s")
    assert lines[-1].startswith("s BAD"), lines
    lines = r2.cmd("SELECT INBOX (BOGUS)", "s2")
    assert lines[-1].startswith("s2 BAD"), lines


def test_modseq_persists_changedsince_status(imap):
    for i in range(3):
        deliver(imap.store, message("m%d" % i))
    r = raw(imap)
    lines = ok(r, "SELECT INBOX (CONDSTORE)", "s")
    h0 = code(lines, "HIGHESTMODSEQ")
    got = fetches(ok(r, "UID FETCH 1:* (MODSEQ)"))
    assert set(got) == {1, 2, 3} and all(0 < m <= h0
                                         for _, m in got.values()), got
    got = fetches(ok(r, "UID STORE 2 +FLAGS (\\Seen)"))
    assert got[2][0] == {"\\Seen"} and got[2][1] > h0, got
    h1 = got[2][1]
    # A no-op change gives no new MODSEQ.
    got = fetches(ok(r, "UID STORE 2 +FLAGS (\\Seen)"))
    assert got[2][1] == h1, got
    ok(r, "LOGOUT", "z")
    # Another session, maybe another process: the same MODSEQs.
    r = raw(imap)
    lines = ok(r, "STATUS INBOX (HIGHESTMODSEQ MESSAGES)", "st")
    assert "HIGHESTMODSEQ %d" % h1 in lines[0], lines
    lines = ok(r, "SELECT INBOX (CONDSTORE)", "s")
    assert code(lines, "HIGHESTMODSEQ") == h1
    got = fetches(ok(r, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % h0))
    assert got == {2: ({"\\Seen"}, h1)}, got
    assert fetches(ok(r, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % h1)) \
        == {}
    # The record sits next to the UID list.
    with open(os.path.join(imap.store, "ispmail-modseq")) as f:
        assert f.readline().split()[:3] == ["ispmail-modseq", "1", str(h1)]
    # A restart keeps them.
    imap.stop()
    imap.start()
    r = raw(imap)
    lines = ok(r, "SELECT INBOX (CONDSTORE)", "s")
    assert code(lines, "HIGHESTMODSEQ") == h1


def test_unchangedsince_reports_modified(imap):
    for i in range(3):
        deliver(imap.store, message("u%d" % i))
    a = raw(imap, "CONDSTORE")
    ok(a, "SELECT INBOX", "s")
    got = fetches(ok(a, "UID FETCH 1:3 (MODSEQ)"))
    before = max(m for _, m in got.values())
    b = raw(imap)
    ok(b, "SELECT INBOX", "s")
    ok(b, "UID STORE 1 +FLAGS (\\Answered)")
    # A changes 1:3 only if unchanged since it looked: 1 was changed.
    lines = a.cmd("UID STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS.SILENT "
                  "(\\Flagged)" % before, "c")
    assert re.match(r"c OK \[MODIFIED 1\]", lines[-1]), lines
    got = fetches(lines)
    assert set(got) >= {2, 3}, lines
    assert all("\\Flagged" in got[u][0] and got[u][1] > before
               for u in (2, 3)), got
    got = fetches(ok(a, "UID FETCH 1 (FLAGS MODSEQ)"))
    assert got[1][0] == {"\\Answered"}, got
    # UNCHANGEDSINCE 0 never changes anything (RFC 7162 3.1.3).
    lines = a.cmd("STORE 2 (UNCHANGEDSINCE 0) +FLAGS (\\Draft)", "d")
    assert re.match(r"d OK \[MODIFIED 2\]", lines[-1]), lines


def test_store_by_number_answers_with_uid_once_condstore_is_on(imap):
    """RFC 7162 3.1: a CONDSTORE (or QRESYNC) session's STORE answers
    carry UID and MODSEQ even for a STORE by message number; a plain
    session's STORE answers as RFC 3501 says, without them."""
    for i in range(3):
        deliver(imap.store, message("n%d" % i))
    for enable in ("CONDSTORE", "QRESYNC"):
        a = raw(imap, enable)
        ok(a, "SELECT INBOX", "s")
        lines = [line for line in ok(a, "STORE 2:3 +FLAGS (\\Seen)")
                 if " FETCH " in line]
        assert len(lines) == 2, lines
        for line, uid in zip(lines, (2, 3)):
            assert re.search(r"\bUID %d\b" % uid, line), lines
            assert re.search(r"MODSEQ \(\d+\)", line), lines
        ok(a, "STORE 2:3 -FLAGS (\\Seen)")
        ok(a, "LOGOUT", "z")
    b = raw(imap)
    ok(b, "SELECT INBOX", "s")
    lines = [line for line in ok(b, "STORE 1 +FLAGS (\\Seen)")
             if " FETCH " in line]
    assert lines == ["* 1 FETCH (FLAGS (\\Seen))"], lines


def test_qresync_reconnect_sees_exactly_the_changes(imap):
    validity, modseq = first_session(imap, "q", 8)
    # Meanwhile: flags of 2 and 4 change, 3 and 5 are expunged by
    # another session, 6's file is deleted behind imapd's back (popd,
    # a shell), a message is delivered (UID 9).
    b = raw(imap)
    ok(b, "SELECT INBOX", "s")
    ok(b, "UID STORE 2 +FLAGS (\\Flagged)")
    ok(b, "UID STORE 4 +FLAGS (\\Seen $Work)")
    ok(b, "UID STORE 3,5 +FLAGS.SILENT (\\Deleted)")
    ok(b, "EXPUNGE", "x")
    ok(b, "LOGOUT", "z")
    unlink_message(imap.store, "Subject: q5")
    deliver(imap.store, message("new"))
    a = raw(imap, "QRESYNC")
    lines = ok(a, "SELECT INBOX (QRESYNC (%d %d))" % (validity, modseq),
               "s")
    assert vanished(lines, earlier=True) == [3, 5, 6], lines
    got = fetches(lines)
    assert set(got) == {2, 4, 9}, lines
    assert got[2][0] == {"\\Flagged"}
    assert got[4][0] == {"\\Seen", "$Work"}
    assert all(m > modseq for _, m in got.values())
    # With known UIDs, only those vanish that the client knew.
    a2 = raw(imap, "QRESYNC")
    lines = ok(a2, "SELECT INBOX (QRESYNC (%d %d 1:4))" % (validity, modseq),
               "s")
    assert vanished(lines, earlier=True) == [3], lines
    # A wrong UIDVALIDITY: a plain SELECT, no resync data.
    lines = ok(a2, "SELECT INBOX (QRESYNC (%d %d))" % (validity + 1,
                                                       modseq), "s2")
    assert lines[0] == "* OK [CLOSED] Previous mailbox closed", lines
    assert vanished(lines, True) == [] and fetches(lines) == {}, lines
    # UID FETCH (CHANGEDSINCE n VANISHED): the same, for a UID range.
    lines = ok(a, "UID FETCH 3:* (FLAGS) (CHANGEDSINCE %d VANISHED)"
               % modseq, "f")
    assert vanished(lines, earlier=True) == [3, 5, 6], lines
    assert set(fetches(lines)) == {4, 9}, lines
    lines = a2.cmd("FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)", "f2")
    assert lines[-1].startswith("f2 BAD"), lines      # not a UID FETCH
    b = raw(imap, "CONDSTORE")
    ok(b, "SELECT INBOX", "s")
    lines = b.cmd("UID FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)", "f3")
    assert lines[-1].startswith("f3 BAD"), lines      # QRESYNC not on
    # While selected, another session's expunge is VANISHED, not
    # EXPUNGE, and flag changes come with their MODSEQ.
    c = raw(imap)
    ok(c, "SELECT INBOX", "s")
    ok(c, "UID STORE 1 +FLAGS.SILENT (\\Deleted)")
    ok(c, "UID STORE 7 +FLAGS.SILENT (\\Answered)")
    ok(c, "EXPUNGE", "x")
    lines = ok(a, "NOOP", "n")
    assert vanished(lines, earlier=False) == [1], lines
    assert not any(l.endswith(" EXPUNGE") for l in lines), lines
    got = fetches(lines)
    assert got[7][0] == {"\\Answered"} and got[7][1] > modseq, lines


def test_lost_record_resyncs_everything(imap):
    validity, modseq = first_session(imap, "l", 3)
    unlink_message(imap.store, "Subject: l1")
    os.unlink(os.path.join(imap.store, "ispmail-modseq"))
    a = raw(imap, "QRESYNC")
    lines = ok(a, "SELECT INBOX (QRESYNC (%d %d 1:5))" % (validity, modseq),
               "s")
    assert code(lines, "HIGHESTMODSEQ") > modseq
    assert set(fetches(lines)) == {1, 3}, lines
    # The record forgot which UIDs went: every gap is reported, within
    # the UIDs the client knows.
    assert vanished(lines, earlier=True) == [2], lines
    lines = ok(a, "SELECT INBOX (QRESYNC (%d %d 3:5))" % (validity, modseq),
               "s2")
    assert vanished(lines, earlier=True) == [], lines
    lines = ok(a, "UID FETCH 1:2 (FLAGS) (CHANGEDSINCE %d VANISHED)" % modseq,
               "f")
    assert vanished(lines, earlier=True) == [2], lines
    assert set(fetches(lines)) == {1}, lines


def test_search_modseq(imap):
    """RFC 7162 3.1.5: SEARCH MODSEQ n finds what changed at or after n
    and reports the highest MODSEQ among the matches."""
    for i in range(4):
        deliver(imap.store, message("sm%d" % i))
    r = raw(imap)
    lines = ok(r, "SELECT INBOX", "s")
    ok(r, "UID STORE 3 +FLAGS (\\Seen)")
    got = fetches(ok(r, "UID FETCH 3 (MODSEQ)"))
    m3 = got[3][1]
    lines = ok(r, "SEARCH MODSEQ %d" % m3, "q")
    assert lines == ["* SEARCH 3 (MODSEQ %d)" % m3], lines
    lines = ok(r, 'UID SEARCH MODSEQ "/flags/\\\\Seen" all %d' % m3, "q2")
    assert lines == ["* SEARCH 3 (MODSEQ %d)" % m3], lines
    assert ok(r, "SEARCH MODSEQ %d" % (m3 + 1), "q3") == ["* SEARCH"]
    lines = ok(r, "SEARCH RETURN (COUNT) MODSEQ 1", "q4")
    assert lines == ['* ESEARCH (TAG "q4") COUNT 4 MODSEQ %d' % m3], lines
