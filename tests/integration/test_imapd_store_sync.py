"""imapd STORE and the other sessions: a STORE (also UID STORE) answers
for its own changes only and leaves the others' to the next command that
looks (so a run of UID STOREs does not read the folder again after each);
what it stored is seen by a second session's next command and by a new
SELECT; two sessions storing different flags on the same messages at the
same time lose neither change."""

import os
import re
import threading

import pytest

from imapdutil import fill_cur, make_imap_instance, raw_ok as ok, raw_selected

COUNT = 300


def fill(folder, count, flags=""):
    fill_cur(folder, count, "sync", flags)


@pytest.fixture
def imap(make_instance):
    inst, store = make_imap_instance(make_instance)
    inst.store = store
    return inst


def session(imap, count=COUNT):
    return raw_selected(imap, count)


FETCH = re.compile(r"\* (\d+) FETCH \(.*FLAGS \(([^)]*)\)")


def flags_by_seq(lines):
    """{seq: set of flags} of the untagged FETCH lines."""
    out = {}
    for line in lines:
        m = FETCH.match(line)
        if m:
            out[int(m.group(1))] = set(m.group(2).split()) - {"\\Recent"}
    return out


def disk_flags(store):
    return sorted(n.partition(":2,")[2]
                  for n in os.listdir(os.path.join(store, "cur")))


def test_uid_store_leaves_other_changes_to_the_next_command(imap):
    fill(imap.store, 5)
    a = session(imap, 5)
    b = session(imap, 5)
    # B expunges message 3 and answers message 1 behind A's back.
    ok(b, "STORE 3 +FLAGS.SILENT (\\Deleted)")
    ok(b, "EXPUNGE")
    ok(b, "STORE 1 +FLAGS.SILENT (\\Answered)")
    # A's UID STORE reports its own change and nothing of B's ...
    lines = ok(a, "UID STORE 2 +FLAGS (\\Flagged)")
    assert flags_by_seq(lines) == {2: {"\\Flagged"}}, lines
    assert not any("EXPUNGE" in x or "EXISTS" in x for x in lines), lines
    # ... nor does a second one (no rescan in between) ...
    lines = ok(a, "UID STORE 4 +FLAGS (\\Seen)")
    assert flags_by_seq(lines) == {4: {"\\Seen"}}, lines
    assert not any("EXPUNGE" in x for x in lines), lines
    # ... and the next command that looks gets all of B's changes.
    lines = ok(a, "NOOP")
    assert "* 3 EXPUNGE" in lines, lines
    assert flags_by_seq(lines).get(1) == {"\\Answered"}, lines
    # A's own stores are not reported again: already answered.
    assert 2 not in flags_by_seq(lines), lines
    got = flags_by_seq(ok(a, "UID FETCH 1:* (FLAGS)"))
    assert got == {1: {"\\Answered"}, 2: {"\\Flagged"}, 3: {"\\Seen"},
                   4: set()}, got
    assert disk_flags(imap.store) == ["", "F", "R", "S"]


def test_stored_flags_seen_by_another_session_and_a_new_select(imap):
    fill(imap.store, COUNT)
    a = session(imap)
    b = session(imap)
    assert ok(a, "UID STORE 1:100 +FLAGS.SILENT (\\Flagged)") == []
    assert ok(a, "STORE 201:* +FLAGS.SILENT (\\Seen \\Answered)") == []
    # B, selected before, learns every change at its next command.
    got = flags_by_seq(ok(b, "NOOP"))
    want = {i: {"\\Flagged"} for i in range(1, 101)}
    want.update({i: {"\\Seen", "\\Answered"}
                 for i in range(201, COUNT + 1)})
    assert got == want
    # A new session reads the same from the folder.
    c = session(imap)
    got = flags_by_seq(ok(c, "FETCH 1:* (FLAGS)"))
    want.update({i: set() for i in range(101, 201)})
    assert got == want
    assert disk_flags(imap.store).count("F") == 100
    assert disk_flags(imap.store).count("RS") == COUNT - 200


@pytest.mark.parametrize("uid", ["", "UID "])
def test_racing_stores_on_the_same_messages_lose_nothing(imap, uid):
    fill(imap.store, COUNT, "S")
    a = session(imap)
    b = session(imap)
    errors = []
    start = threading.Barrier(2)

    def run(r, cmds):
        try:
            start.wait(10)
            for text in cmds:
                ok(r, uid + text)
        except Exception as e:  # reported below, in the test's thread
            errors.append(e)

    # Each session changes a different flag of every message, at once,
    # from views that go stale under it with every STORE of the other.
    ta = threading.Thread(target=run, args=(a, [
        "STORE 1:* +FLAGS.SILENT (\\Flagged)",
        "STORE 1:* -FLAGS.SILENT (\\Seen)",
        "STORE 1:* +FLAGS.SILENT (\\Draft)"]))
    tb = threading.Thread(target=run, args=(b, [
        "STORE 1:* +FLAGS.SILENT (\\Answered)",
        "STORE 1:* +FLAGS.SILENT (\\Deleted)",
        "STORE 1:* -FLAGS.SILENT (\\Deleted)"]))
    ta.start()
    tb.start()
    ta.join(60)
    tb.join(60)
    assert not errors, errors
    assert disk_flags(imap.store) == ["DFR"] * COUNT
    c = session(imap)
    got = flags_by_seq(ok(c, "FETCH 1:* (FLAGS)"))
    assert got == {i: {"\\Answered", "\\Draft", "\\Flagged"}
                   for i in range(1, COUNT + 1)}
    # Both sessions end up with the truth too.
    for r in (a, b):
        ok(r, "NOOP")
        assert flags_by_seq(ok(r, "FETCH 1:* (FLAGS)")) == got
