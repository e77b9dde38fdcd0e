"""lmtpd: a repeat of a queued message (the same XQUEUEID for the same
recipient, as after an MX died between the store's 250 and its agent's
mark in the queue file) is answered 250 without a second copy, within
lmtp_duplicate_window; markers past the window are removed."""

import os
import time

from lmtpdutil import DOMAIN, RawLMTP, lmtp_instance, messages, store

BODY = "From: <s@remote.test>\r\nSubject: dup\r\n\r\nhello\r\n"


def deliver(inst, rcpts, queue_id=None):
    """One LMTP transaction; the DATA replies, one per recipient."""
    c = RawLMTP(inst)
    try:
        assert c.command("LHLO agent.example.test")[0] == 250
        mail = "MAIL FROM:<s@remote.test>"
        if queue_id:
            mail += " XQUEUEID=" + queue_id
        assert c.command(mail)[0] == 250
        for r in rcpts:
            assert c.command("RCPT TO:<%s@%s>" % (r, DOMAIN))[0] == 250
        assert c.command("DATA")[0] == 354
        c.send(BODY + ".\r\n")
        return [c.reply() for _ in rcpts]
    finally:
        c.close()


def markers(inst, local):
    d = os.path.join(store(inst, local), "ispmail-delivered")
    return sorted(n for n in os.listdir(d) if not n.startswith(".")) \
        if os.path.isdir(d) else []


def test_repeat_of_a_queue_id_is_not_delivered_twice(make_instance):
    inst = lmtp_instance(make_instance, mailboxes=[("alice",), ("bob",)])
    first = deliver(inst, ["alice"], "1xYlgl0Qu04gIS")
    assert first[0][0] == 250 and "Delivered to INBOX" in first[0][1][0]
    again = deliver(inst, ["alice", "bob"], "1xYlgl0Qu04gIS")
    # alice already has it; bob did not: each recipient on its own.
    assert again[0][0] == 250 and "Already delivered" in again[0][1][0], again
    assert again[1][0] == 250 and "Delivered to INBOX" in again[1][1][0], again
    assert len(messages(inst, "alice")) == 1
    assert len(messages(inst, "bob")) == 1
    assert len(markers(inst, "alice")) == 1
    assert "a repeat of queue id 1xYlgl0Qu04gIS" in inst.log()
    # Another queue id, or none (not our agent), is another message.
    deliver(inst, ["alice"], "1xYlgm0Qu04gIT")
    deliver(inst, ["alice"])
    deliver(inst, ["alice"])
    assert len(messages(inst, "alice")) == 4


def test_window_zero_is_off_and_old_markers_expire(make_instance):
    inst = lmtp_instance(make_instance, mailboxes=[("alice",)],
                         params={"lmtp_duplicate_window": "0"})
    deliver(inst, ["alice"], "1xYlgl0Qu04gIS")
    deliver(inst, ["alice"], "1xYlgl0Qu04gIS")
    assert len(messages(inst, "alice")) == 2
    assert markers(inst, "alice") == []

    inst = lmtp_instance(make_instance, mailboxes=[("alice",)],
                         params={"lmtp_duplicate_window": "10m"})
    deliver(inst, ["alice"], "1xYlgl0Qu04gIS")
    d = os.path.join(store(inst, "alice"), "ispmail-delivered")
    (old,) = markers(inst, "alice")
    # Past the window: a repeat is delivered again, and the next expiry
    # pass (the stamp is older than a quarter of the window) removes it.
    past = time.time() - 11 * 60
    os.utime(os.path.join(d, old), (past, past))
    os.utime(os.path.join(d, ".expired"), (past, past))
    deliver(inst, ["alice"], "1xYlgl0Qu04gIS")
    assert len(messages(inst, "alice")) == 2
    assert markers(inst, "alice") == [old]      # recorded afresh
    os.utime(os.path.join(d, old), (past, past))
    os.utime(os.path.join(d, ".expired"), (past, past))
    deliver(inst, ["alice"], "1xYlgn0Qu04gIU")
    assert old not in markers(inst, "alice")
    assert len(markers(inst, "alice")) == 1


def test_markers_are_links_to_one_anchor_per_time_slice(make_instance):
    # A marker is a directory entry, not a new file: the deliveries of one
    # slice of the window share the inode of its anchor (.b-N), whose
    # mtime is the slice's; an anchor someone aged is replaced, so a new
    # marker never looks older than it is.
    inst = lmtp_instance(make_instance, mailboxes=[("alice",)],
                         params={"lmtp_duplicate_window": "1d"})
    deliver(inst, ["alice"], "1xYlgl0Qu04gIS")
    deliver(inst, ["alice"], "1xYlgm0Qu04gIT")
    d = os.path.join(store(inst, "alice"), "ispmail-delivered")
    a, b = markers(inst, "alice")
    sa, sb = os.lstat(os.path.join(d, a)), os.lstat(os.path.join(d, b))
    anchors = [n for n in os.listdir(d) if n.startswith(".b-")]
    if sa.st_ino != sb.st_ino:      # the two fell into two slices
        assert len(anchors) == 2
    else:
        assert len(anchors) == 1 and sa.st_nlink == 3
    assert all(os.lstat(os.path.join(d, n)).st_ino in (sa.st_ino, sb.st_ino)
               for n in anchors)
    assert abs(sb.st_mtime - time.time()) < 5400    # one slice of 1d
    # Aged by hand: the repeat is not suppressed past window + slice.
    past = time.time() - 86400 - 5400 - 60
    for n in anchors:
        os.utime(os.path.join(d, n), (past, past))
    again = deliver(inst, ["alice"], "1xYlgl0Qu04gIS")
    assert "Delivered to INBOX" in again[0][1][0], again
    # The marker recorded afresh has a fresh anchor, not the aged one.
    st = os.lstat(os.path.join(d, a))
    assert time.time() - st.st_mtime < 5400 and st.st_nlink >= 2
    assert len(messages(inst, "alice")) == 3
    assert deliver(inst, ["alice"], "1xYlgl0Qu04gIS")[0][1][0].endswith(
        "Already delivered")
    assert len(messages(inst, "alice")) == 3
