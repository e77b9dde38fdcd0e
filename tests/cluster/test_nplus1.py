"""N+1: each host in turn is killed (kill -9 of every process in its
namespace) under a steady light load of sending through the MX hosts and
logging in through the proxy tier's name (proxy1 and proxy2), and started
again.  No message that got a 250
is lost; mail for a dead store host waits in the MX queues and arrives
after it returns; the other MX takes the traffic; the shared-storage
partner serves the dead store's shared mailboxes; the directory consumer
answers while the provider is dead, and provisioning exits 75 naming the
provider; readers get temporary errors only for mailboxes with no live
store (and, with a proxy killed, only a login that was in flight on it:
the next goes to the other proxy, as a client with two A records does)."""

import time
import uuid

import pytest

import clusterutil

OUTAGE = 4.0            # seconds a host stays dead under load

# Mailboxes whose only store host is the key (u2 and u4 have both).
ONLY_ON = {"store1": "u1@a.test", "store2": "u3@b.test"}
SHARED = {"store1": "u2@a.test", "store2": "u4@b.test"}


def during(load, t_from, t_to):
    return [x for x in load.logins if t_from <= x[0] and x[0] + x[4] <= t_to]


@pytest.mark.parametrize("host", ["mx1", "mx2", "out1", "store1", "store2",
                                  "ldap1", "ldap2", "proxy1", "proxy2"])
def test_kill_host_under_load(cluster, results, host):
    load = clusterutil.Load(cluster, "kill-%s-%s" % (host, uuid.uuid4().hex[:6]))
    load.start()
    extra = {}
    try:
        time.sleep(1.5)
        t_kill = time.time()
        cluster.kill(host)
        time.sleep(1.0)
        extra.update(check_while_dead(cluster, host, load))
        time.sleep(max(0.0, t_kill + OUTAGE - time.time()))
        t_back = time.time()
        cluster.start(host)
        time.sleep(1.5)
    finally:
        load.stop()
    assert not load.errors, load.errors
    found = load.wait_delivered(timeout=60)
    res = load.results(found)
    res.update(extra)
    results["kill " + host] = res
    # Nothing that got a 250 is lost.
    assert res["lost"] == 0, res
    # No second copy of a message unless its sender saw a lost reply
    # after the end of its data and retried (RFC 1047: a copy no MTA can
    # avoid); a redelivery from a queue (an MX killed between the
    # store's 250 and its agent's mark) is suppressed by lmtpd.
    assert res["duplicated_ours"] == 0, res["duplicates"]
    # Sending never stopped: the MX tier answered throughout.
    assert not load.refused, ("refused while %s was dead" % host, load.refused)
    accepted_during = [a for a in load.accepted.values()
                       if t_kill + 0.5 < a[1] < t_back]
    assert accepted_during, "nothing accepted while %s was dead" % host
    if host in ("mx1", "mx2"):
        # The other MX took every message while this one was dead.
        assert all(a[2] != host for a in accepted_during), accepted_during
    # Logins: temporary failures only where no store was alive for the
    # mailbox (or no proxy at all), never an authentication failure.
    assert res["logins_auth_failed"] == 0, load.logins
    # The host is serving again from its first successful login after
    # the restart (a started daemon under load, ASan included, may take
    # seconds); until then its mailboxes have no live store.
    back_ok = [x[0] for x in load.logins if x[2] == "ok" and x[0] >= t_back
               and x[1] == ONLY_ON.get(host)]
    t_serving = min(back_ok) if back_ok else t_back + 3.0
    for t0, user, result, text, dur in load.logins:
        if result == "ok":
            continue
        dead = (t_kill - 0.5 <= t0 + dur
                and t0 <= max(t_back + 3.0, t_serving))
        # A session on a proxy or store that died under it breaks; a
        # client reconnects (to the other proxy, or the partner store):
        # no other login may fail.
        in_flight = t0 - 0.5 <= t_kill <= t0 + dur + 0.5
        allowed = dead and (ONLY_ON.get(host) == user or
                            host.startswith(("proxy", "store"))
                            and in_flight)
        assert allowed, (host, user, result, text, round(t0 - t_kill, 2),
                         round(dur, 2), round(t_back - t_kill, 2),
                         round(t_serving - t_kill, 2))
    if host.startswith("proxy"):
        # Reads went on while the proxy was dead.
        assert [x for x in during(load, t_kill + 0.5, t_back)
                if x[2] == "ok"], load.logins
    # After the host is back, reads work again everywhere.
    for user in ("u1@a.test", "u3@b.test", "u2@a.test"):
        deadline = time.time() + 15
        while True:
            result, text = cluster.imap_try(user)
            if result == "ok" or time.time() > deadline:
                break
            time.sleep(0.5)
        assert result == "ok", (user, text)


def check_while_dead(cluster, host, load):
    """The host-specific promises, checked while it is dead."""
    out = {}
    if host in ONLY_ON:
        # The partner serves the shared mailbox; the mailbox stored only
        # on the dead host answers with a temporary failure.
        result, text = cluster.imap_try(SHARED[host])
        assert result == "ok", (SHARED[host], text)
        result, text = cluster.imap_try(ONLY_ON[host])
        assert result == "temporary", (ONLY_ON[host], result, text)
        # Mail for it waits in the MX queues.
        tag = "queued-%s-%s" % (host, uuid.uuid4().hex[:6])
        mx = cluster.send_mx(tag, ONLY_ON[host])
        assert mx is not None
        load.accepted[tag] = (ONLY_ON[host], time.time(), mx)
        load.sent.append((tag, ONLY_ON[host], time.time()))
        deadline = time.time() + 5
        queued = ""
        while time.time() < deadline:
            queued = cluster.queue_list(mx)
            if ONLY_ON[host] in queued:
                break
            time.sleep(0.3)
        assert ONLY_ON[host] in queued, queued
        assert tag not in cluster.scan([ONLY_ON[host]])
        out["queued_on_mx_while_dead"] = True
    elif host == "ldap1":
        # Provisioning writes the provider: a temporary failure (75)
        # that names it.  The consumer goes on answering reads (the load
        # keeps sending and logging in).
        r = cluster.ctl("mailbox", "add", "nobody-%s@a.test"
                        % uuid.uuid4().hex[:6], "--password-stdin",
                        stdin="x\n")
        assert r.returncode == 75, (r.returncode, r.stderr)
        assert "ldap://%s/" % cluster.addr("ldap1") in r.stderr, r.stderr
        out["provisioning_exit"] = r.returncode
    elif host.startswith("proxy"):
        # The dead proxy's address refuses; the name still serves every
        # mailbox, through the other proxy.
        result, text = cluster.imap_try("u1@a.test", host=host)
        assert result == "temporary", (host, result, text)
        for _ in range(4):
            for user in ("u1@a.test", "u3@b.test"):
                result, text = cluster.imap_try(user)
                assert result == "ok", (user, text)
        out["reads_through_other_proxy"] = True
    elif host == "out1":
        # Submission through the proxy: a temporary failure, not a hang.
        t0 = time.time()
        with pytest.raises(Exception) as exc:
            cluster.submit("nosub", "u2@a.test", "r1@remote.test")
        code = getattr(exc.value, "smtp_code", None)
        assert code is not None and 400 <= code < 500, repr(exc.value)
        assert time.time() - t0 < 15
        out["submission_reply"] = code
    return out
