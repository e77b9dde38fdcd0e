"""The service skeleton: a connection wakes one idle process of the
service, not every one of them (the listener is in each process's epoll
set with EPOLLEXCLUSIVE).  With poll() every idle lmtpd woke up for each
connection, and all but one found nothing to accept: about four wasted
wakeups per delivered message at 20 processes."""

import socket
import time

from lmtpdutil import lmtp_instance

PROCS = 4


def lmtpd_pids(inst):
    return [pid for pid in inst.instance_pids() if pid != inst.pid]


def switches(pid):
    """Voluntary context switches: each wakeup from sleep adds one."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches for %d" % pid)


def greet(inst):
    s = socket.create_connection(("127.0.0.1", inst.port("lmtp")), 10)
    s.settimeout(10)
    assert s.recv(512).startswith(b"220 ")
    return s


def quit(s):
    s.sendall(b"QUIT\r\n")
    assert s.recv(512).startswith(b"221 ")
    s.close()


def settled(pids):
    """Counts once no process switched for 300 ms (all asleep)."""
    before = {pid: switches(pid) for pid in pids}
    while True:
        time.sleep(0.3)
        now = {pid: switches(pid) for pid in pids}
        if now == before:
            return now
        before = now


def test_a_connection_wakes_one_idle_process(make_instance):
    inst = lmtp_instance(make_instance, maxproc=PROCS)
    # PROCS sessions at once: the master starts PROCS processes.
    held = [greet(inst) for _ in range(PROCS)]
    for s in held:
        quit(s)
    inst.wait_for(lambda: len(lmtpd_pids(inst)) == PROCS, timeout=10,
                  what="%d lmtpd processes" % PROCS)
    pids = lmtpd_pids(inst)
    for _ in range(3):
        before = settled(pids)
        quit(greet(inst))
        after = settled(pids)
        woken = [pid for pid in pids if after[pid] != before[pid]]
        # The one that served it; the others slept through.
        assert len(woken) == 1, (before, after)
