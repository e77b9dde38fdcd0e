"""imapd STORE on a whole large folder (the bench's STORE 1:*): every
message changed gets its untagged FETCH with its own new MODSEQ, the
files are renamed, the MODSEQs persist in the record; .SILENT sends no
FETCH unless UNCHANGEDSINCE is given (RFC 7162 3.1.3); UNCHANGEDSINCE
over hundreds of messages changed by another session names exactly
those in MODIFIED; a STORE or a FETCH that sets \\Seen on messages
another session has renamed since keeps that session's flags."""

import os
import re

import pytest

from imapdutil import fill_cur, make_imap_instance, raw_ok as ok, raw_selected

COUNT = 1500


def fill(folder, count):
    fill_cur(folder, count, "store")


@pytest.fixture
def imap(make_instance):
    inst, store = make_imap_instance(make_instance)
    inst.store = store
    fill(store, COUNT)
    return inst


def session(imap, enable=None):
    return raw_selected(imap, COUNT, enable)


FETCH = re.compile(r"\* (\d+) FETCH \((.*)\)$")


def fetches(lines):
    """[(seq, uid or None, flags, modseq or None)] of the FETCH lines."""
    out = []
    for line in lines:
        m = FETCH.match(line)
        assert m, line
        body = m.group(2)
        uid = re.search(r"UID (\d+)", body)
        modseq = re.search(r"MODSEQ \((\d+)\)", body)
        flags = re.search(r"FLAGS \(([^)]*)\)", body).group(1).split()
        out.append((int(m.group(1)), int(uid.group(1)) if uid else None,
                    set(flags) - {"\\Recent"},
                    int(modseq.group(1)) if modseq else None))
    return out


def highestmodseq(imap):
    r = session(imap)
    line = ok(r, "STATUS INBOX (HIGHESTMODSEQ)", "st")[0]
    ok(r, "LOGOUT", "z")
    return int(re.search(r"HIGHESTMODSEQ (\d+)", line).group(1))


def flagged_on_disk(store):
    return sum(1 for n in os.listdir(os.path.join(store, "cur"))
               if n.partition(":2,")[2] == "F")


def test_store_all_gives_every_fetch_its_modseq(imap):
    a = session(imap, "CONDSTORE")
    before = highestmodseq(imap)
    got = fetches(ok(a, "UID STORE 1:* +FLAGS (\\Flagged)"))
    # One FETCH per message, in order, each with its UID and flags.
    assert [g[0] for g in got] == list(range(1, COUNT + 1))
    assert [g[1] for g in got] == list(range(1, COUNT + 1))
    assert all(g[2] == {"\\Flagged"} for g in got)
    # Each change has its own MODSEQ, above every earlier one.
    modseqs = [g[3] for g in got]
    assert len(set(modseqs)) == COUNT and min(modseqs) > before, modseqs[:3]
    assert flagged_on_disk(imap.store) == COUNT
    # The record holds them: another session sees the same.
    assert highestmodseq(imap) == max(modseqs)
    b = session(imap, "CONDSTORE")
    again = fetches(ok(b, "FETCH 1:* (MODSEQ FLAGS)"))
    assert [g[3] for g in again] == modseqs
    # A second, no-op STORE changes no MODSEQ and renames nothing.
    got = fetches(ok(a, "STORE 1:* +FLAGS (\\Flagged)"))
    assert [g[3] for g in got] == modseqs
    assert highestmodseq(imap) == max(modseqs)


def test_silent_sends_no_fetch_unless_unchangedsince(imap):
    a = session(imap)
    assert ok(a, "STORE 1:* +FLAGS.SILENT (\\Seen)") == []
    assert sum(1 for n in os.listdir(os.path.join(imap.store, "cur"))
               if n.endswith(":2,S")) == COUNT
    # With UNCHANGEDSINCE the changes are reported (RFC 7162 3.1.3).
    lines = ok(a, "STORE 1:* (UNCHANGEDSINCE %d) -FLAGS.SILENT (\\Seen)"
               % highestmodseq(imap))
    got = fetches(lines)
    assert len(got) == COUNT and all(g[2] == set() for g in got)


def test_unchangedsince_names_every_modified_message(imap):
    a = session(imap, "CONDSTORE")
    since = highestmodseq(imap)
    # Another session changes every third message: 500, past any small
    # first allocation of the MODIFIED list.
    b = session(imap)
    changed = list(range(3, COUNT + 1, 3))
    ok(b, "UID STORE %s +FLAGS.SILENT (\\Answered)"
       % ",".join(map(str, changed)))
    lines = a.cmd("UID STORE 1:* (UNCHANGEDSINCE %d) +FLAGS.SILENT "
                  "(\\Flagged)" % since, "c")
    m = re.match(r"c OK \[MODIFIED ([0-9:,]+)\]", lines[-1])
    assert m, lines[-1][:200]
    modified = []
    for part in m.group(1).split(","):
        lo, _, hi = part.partition(":")
        modified.extend(range(int(lo), int(hi or lo) + 1))
    assert modified == changed
    # This STORE answers for its own changes only; the other session's
    # come with the next command that looks, as unsolicited FETCHes
    # (with this CONDSTORE session's MODSEQ).
    mine = fetches(lines[:-1])
    seen = fetches(ok(a, "NOOP"))
    assert all(g[2] == {"\\Answered"} for g in seen)
    assert sorted(g[0] for g in seen) == changed
    assert all(since < g[3] for g in seen)
    assert [g[1] for g in mine] == [u for u in range(1, COUNT + 1)
                                    if u % 3 != 0]
    assert all(g[2] == {"\\Flagged"} and g[3] > since for g in mine)
    # The modified ones kept their flags: UNCHANGEDSINCE protected them.
    names = os.listdir(os.path.join(imap.store, "cur"))
    assert sum(1 for n in names if n.endswith(":2,R")) == len(changed)
    assert sum(1 for n in names if n.endswith(":2,F")) == \
        COUNT - len(changed)


def test_store_keeps_flags_another_session_set_meanwhile(imap):
    a = session(imap)
    b = session(imap)
    # b answers every other message; a has not looked since its SELECT.
    odd = ",".join(str(n) for n in range(1, COUNT + 1, 2))
    ok(b, "STORE %s +FLAGS.SILENT (\\Answered)" % odd)
    got = fetches(ok(a, "STORE 1:* +FLAGS (\\Flagged)"))
    want = {n: {"\\Flagged", "\\Answered"} if n % 2 else {"\\Flagged"}
            for n in range(1, COUNT + 1)}
    assert {g[0]: g[2] for g in got} == want
    letters = sorted(n.partition(":2,")[2]
                     for n in os.listdir(os.path.join(imap.store, "cur")))
    assert letters == sorted(["FR"] * (COUNT // 2) + ["F"] * (COUNT // 2))
    # FETCH BODY[] sets \\Seen: on top of a flag b set meanwhile.
    ok(b, "STORE 2 +FLAGS.SILENT (\\Draft)")
    ok(a, "FETCH 2 (BODY[])")
    name = [n for n in os.listdir(os.path.join(imap.store, "cur"))
            if n.startswith("1600000001.")]
    assert [n.partition(":2,")[2] for n in name] == ["DFS"], name
