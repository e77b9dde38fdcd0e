"""imapd's envelope cache (ispmail-envcache(5)): FETCH ENVELOPE answered
from the folder's cache file gives the bytes of the uncached answer, a
file replaced under the same name is never answered from its old record,
a damaged or truncated cache is read up to the damage and rebuilt, and two
sessions appending at once leave a file whose every record is whole."""

import os
import threading

import pytest

from imapdutil import deliver, login, make_imap_instance, message

CACHE = "ispmail-envcache"
HEADER = b"ispmail-envcache 1\n"

# The envelope test messages of tests/unit/check_mime.c (mime_fixture.h)
# and a few more: groups, comments, quoted pairs, encoded words, 8-bit
# text (sent as a literal), a header without a body, no header at all.
TEXTS = [
    message("plain"),
    "From: \"Smith, John\" <john@example.com>\nTo: team: a@x.org, \"B\" "
    "<b@y.org>;, c@z.org\nCc: undisclosed-recipients:;\nReply-To:\n"
    "Subject: =?UTF-8?Q?caf=C3=A9?=\n\nbody\n",
    "Subject: say \"hi\" \\ back\nDate: Gr\u00fc\u00dfe\nFrom: (Carol "
    "Comment) carol@c.test, <>, Dave <d@d.test> junk,\n  bare, @nolocal, "
    "\"Quoted Local\"@q.test (Q Name)\nSender: <@route1,@route2:s@s.test>\n"
    "In-Reply-To: <x@y>\n\n",
    "Subject: x\nFrom: y@z",
    "\nno header\n",
    "From: a@x\r\nSubject: alt\r\nMIME-Version: 1.0\r\nContent-Type: "
    "multipart/alternative;\r\n\tboundary=\"XYZ\"\r\n\r\n--XYZ\r\n\r\nx\r\n"
    "--XYZ--\r\n",
    message("long", extra="X-Pad: " + "p" * 20000 + "\n"),
]


@pytest.fixture
def imap(make_instance):
    inst, store = make_imap_instance(make_instance)
    inst.store = store
    return inst


def fnv(data, h=14695981039346656037):
    for c in data:
        h = ((h ^ c) * 1099511628211) & 0xffffffffffffffff
    return h


def records(path):
    """The records of a cache file, checked the way imapd checks them;
    asserts that the file is whole."""
    data = open(path, "rb").read()
    assert data.startswith(HEADER), data[:40]
    pos, out = len(HEADER), []
    while pos < len(data):
        nl = data.index(b"\n", pos)
        fields = data[pos:nl].split(b" ")
        assert fields[0] == b"E" and len(fields) == 6, data[pos:nl]
        length = int(fields[3])
        env = data[nl + 1:nl + 1 + length]
        assert data[nl + 1 + length:nl + 2 + length] == b"\n"
        line = data[pos:nl - 16]
        assert "%016x" % fnv(env, fnv(line)) == fields[5].decode()
        out.append((fields[4].decode(), int(fields[1]), env))
        pos = nl + 2 + length
    return out


def fetch_envelopes(inst, spec="1:*"):
    c = login(inst)
    c.select("INBOX")
    typ, data = c.fetch(spec, "(UID ENVELOPE)")
    c.logout()
    assert typ == "OK", data
    return data


def fill(inst, texts=TEXTS):
    names = [deliver(inst.store, t) for t in texts]
    first = fetch_envelopes(inst)
    path = os.path.join(inst.store, CACHE)
    assert sorted(b for b, _, _ in records(path)) == sorted(names)
    return names, first, path


def rewrite_keeping_key(inst, base, old, new):
    """Rewrite the file of base in place, old text replaced by new, with
    its size and mtime kept: the one change the cache's key cannot see."""
    cur = os.path.join(inst.store, "cur")
    path = os.path.join(cur, [n for n in os.listdir(cur)
                              if n.startswith(base)][0])
    st = os.stat(path)
    text = open(path).read()
    with open(path, "w") as f:
        f.write(text.replace(old, new))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_cached_envelopes_are_the_uncached_ones(imap):
    names, first, path = fill(imap)
    # Served from the cache: the same bytes.  The proof that the cache
    # answered: a file rewritten with its size and mtime kept (the one
    # change the key cannot see) still gets its old envelope.
    assert fetch_envelopes(imap) == first
    rewrite_keeping_key(imap, names[0], "Subject: plain", "Subject: PLAIN")
    assert fetch_envelopes(imap) == first
    rewrite_keeping_key(imap, names[0], "Subject: PLAIN", "Subject: plain")
    # Every envelope is the one of the full parse (ENVELOPE with BODY).
    c = login(imap)
    c.select("INBOX")
    for i in range(len(TEXTS)):
        typ, full = c.fetch(str(i + 1), "(ENVELOPE BODY)")
        typ2, cached = c.fetch(str(i + 1), "(ENVELOPE)")
        assert typ == typ2 == "OK"
        flat_full = b"".join(x if isinstance(x, bytes) else b"".join(x)
                             for x in full)
        flat_cached = b"".join(x if isinstance(x, bytes) else b"".join(x)
                               for x in cached)
        assert flat_full.startswith(flat_cached[:-1] + b" BODY ("), i
    c.logout()


def test_replaced_file_is_not_served_stale(imap):
    names, first, path = fill(imap, [message("old one"), message("old two")])
    cur = os.path.join(imap.store, "cur")
    files = sorted(os.listdir(cur))
    # Same name, same size, new mtime; then new size, same mtime.
    for name, subject in ((files[0], "new one"), (files[1], "new twoooo")):
        full = os.path.join(cur, name)
        st = os.stat(full)
        text = open(full).read().replace(
            "old " + subject.split()[1][:3], subject)
        with open(full + ".tmp", "w") as f:
            f.write(text)
        os.rename(full + ".tmp", full)
        if subject == "new one":
            assert os.stat(full).st_size == st.st_size
            os.utime(full, (st.st_mtime + 7, st.st_mtime + 7))
        else:
            assert os.stat(full).st_size != st.st_size
            os.utime(full, (st.st_atime, st.st_mtime))
    data = b"".join(x if isinstance(x, bytes) else b"".join(x)
                    for x in fetch_envelopes(imap))
    assert b'"new one"' in data and b'"new twoooo"' in data
    assert b'"old' not in data


def test_damaged_cache_is_read_to_the_damage_and_rebuilt(imap):
    names, first, path = fill(imap)
    whole = open(path, "rb").read()
    second = whole.index(b"\nE ", len(HEADER)) + 1
    flip = bytearray(whole)
    flip[second + 120] ^= 0x20
    for damaged in (whole[:5], whole[:len(HEADER) + 10], whole[:second + 30],
                    whole[:-1], bytes(flip), b"junk\n" + whole[5:],
                    b"", whole.replace(b"E ", b"E -", 1)):
        with open(path, "wb") as f:
            f.write(damaged)
        assert fetch_envelopes(imap) == first, damaged[:80]
        # Rebuilt whole, with every message's record.
        assert sorted(b for b, _, _ in records(path)) == sorted(names)
    # A cache file that is a symlink is not followed.
    os.unlink(path)
    os.symlink("/etc/passwd", path)
    assert fetch_envelopes(imap) == first
    assert os.path.islink(path)


def test_sessions_append_batches_and_concurrently(imap):
    texts = [message("m%d" % i, extra="X-N: %d\n" % i) for i in range(40)]
    names = [deliver(imap.store, t) for t in texts]
    reference = fetch_envelopes(imap)
    path = os.path.join(imap.store, CACHE)
    # One session's batch, then another's appended after it.
    os.unlink(path)
    fetch_envelopes(imap, "1:10")
    before = open(path, "rb").read()
    assert len(records(path)) == 10
    fetch_envelopes(imap, "11:40")
    assert open(path, "rb").read().startswith(before)
    assert len(records(path)) == 40
    # Two sessions filling an empty cache at the same time, repeatedly.
    for _ in range(5):
        os.unlink(path)
        errors = []

        def run(spec):
            try:
                fetch_envelopes(imap, spec)
            except Exception as e:      # reported below
                errors.append(e)
        threads = [threading.Thread(target=run, args=(s,))
                   for s in ("1:30", "10:40")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        got = {b for b, _, _ in records(path)}
        assert got <= set(names)
    assert fetch_envelopes(imap) == reference
    assert {b for b, _, _ in records(path)} == set(names)


def test_expunged_messages_drop_out_at_compaction(imap):
    """Past 64 KiB, a cache more than half of whose records are of
    expunged messages is rebuilt with the others' records only.  A FETCH
    of one message in a new session leaves a cache of that size unread."""
    texts = [message("c%d" % i, extra="X-N: %s\n" % ("n" * 300))
             for i in range(300)]
    names = [deliver(imap.store, t) for t in texts]
    fetch_envelopes(imap)
    path = os.path.join(imap.store, CACHE)
    assert os.path.getsize(path) > 64 * 1024
    assert len(records(path)) == 300
    # A new session's FETCH of one message does not read this much
    # cache: it answers from the file (rewritten with size and mtime
    # kept, which the cache could not tell).
    rewrite_keeping_key(imap, names[0], "Subject: c0\n", "Subject: C0\n")
    assert b'"C0"' in fetch_envelopes(imap, "1")[0]
    # Ten messages may read 160 KiB: from the cache, the old answer.
    assert b'"c0"' in fetch_envelopes(imap, "1:10")[0]
    c = login(imap)
    c.select("INBOX")
    typ, _ = c.store("1:200", "+FLAGS.SILENT", r"(\Deleted)")
    assert typ == "OK"
    typ, _ = c.expunge()
    assert typ == "OK"
    # Nothing new to cache: this FETCH compacts what is there.
    typ, data = c.fetch("1:*", "(ENVELOPE)")
    assert typ == "OK" and len(data) == 100
    c.logout()
    assert sorted(b for b, _, _ in records(path)) == sorted(names[200:])
