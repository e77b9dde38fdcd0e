"""imapd IDLE is pushed by inotify: the EXISTS for a message lmtpd
delivers, and another session's flag change or expunge, reach an idling
client at once, not after imap_idle_check_interval (set to its maximum
here, 60 s), with one session per process and with many."""

import socket
import time

import pytest

import harness
from imapdutil import USER, Raw, make_imap_instance, message
from lmtpdutil import lmtp, transaction

# What a push may take on a loaded test machine; the old poll interval
# was 2 s by default, and is 60 s here.
PUSH_BOUND = 0.5


@pytest.fixture(params=["single", "multi"])
def imap(make_instance, request):
    params = {"imap_idle_check_interval": "60s"}
    maxproc = 8
    if request.param == "multi":
        params["imap_client_limit"] = "8"
        maxproc = 1
    inst, store = make_imap_instance(
        make_instance, params=params, maxproc=maxproc,
        services_extra=[harness.Service("lmtp", "lmtpd/lmtpd")])
    inst.store = store
    return inst


def idle(inst):
    r = Raw(inst, timeout=15)
    assert r.login()[-1].startswith("L OK")
    lines = r.cmd("SELECT INBOX", "s")
    assert lines[-1].startswith("s OK"), lines
    r.send("i IDLE\r\n")
    assert r.line().startswith("+ "), "no continuation"
    return r


def until(r, suffix):
    """Read untagged lines until one ends with suffix; the time then."""
    while True:
        line = r.line()
        if line.endswith(suffix) or suffix in line:
            return time.monotonic(), line


def done(r):
    r.send("DONE\r\n")
    lines = r.until_tagged("i")
    assert lines[-1].startswith("i OK"), lines


def test_push_after_lmtp_delivery(imap):
    watchers = [idle(imap), idle(imap)]
    client = lmtp(imap)
    latencies = []
    for n in range(1, 6):
        _, replies = transaction(client, "bob@remote.test", [USER],
                                 message("push %d" % n).encode())
        sent = time.monotonic()
        assert replies[0][0] == 250, replies
        for r in watchers:
            at, line = until(r, " EXISTS")
            assert line == "* %d EXISTS" % n, line
            latencies.append(at - sent)
    client.quit()
    print("push latency after lmtpd's 250: max %.1f ms, mean %.1f ms" % (
        max(latencies) * 1000, sum(latencies) / len(latencies) * 1000))
    assert max(latencies) < PUSH_BOUND, latencies
    # Another session's STORE and EXPUNGE are pushed the same way.
    other = Raw(imap)
    other.login()
    other.cmd("SELECT INBOX", "s")
    assert other.cmd("STORE 2 +FLAGS (\\Flagged)", "f")[-1].startswith("f OK")
    changed = time.monotonic()
    for r in watchers:
        at, line = until(r, "FETCH")
        assert line.startswith("* 2 FETCH") and "\\Flagged" in line, line
        assert at - changed < PUSH_BOUND
    other.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)", "d")
    other.cmd("EXPUNGE", "x")
    changed = time.monotonic()
    for r in watchers:
        at, line = until(r, " EXPUNGE")
        assert line == "* 1 EXPUNGE", line
        assert at - changed < PUSH_BOUND
        done(r)
    other.close()


def test_idle_still_ends_on_done_and_timeout(make_instance):
    """The client's DONE still ends IDLE at once, and a silent client is
    still sent BYE after imap_timeout."""
    inst, store = make_imap_instance(
        make_instance, params={"imap_idle_check_interval": "60s",
                               "imap_timeout": "3s"})
    r = idle(inst)
    start = time.monotonic()
    done(r)
    assert time.monotonic() - start < PUSH_BOUND
    r.send("i IDLE\r\n")
    assert r.line().startswith("+ ")
    start = time.monotonic()
    try:
        line = r.line()
    except (EOFError, socket.timeout) as e:
        raise AssertionError("no BYE: %r" % e)
    assert line.startswith("* BYE"), line
    assert 2.5 < time.monotonic() - start < 10
