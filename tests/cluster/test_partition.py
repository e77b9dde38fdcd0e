"""A partition (every packet of a host dropped, nothing refused) behaves
like a slow timeout, never a hang: the cluster's short timeouts
(ldap_connect_timeout 1s, ldap_search_timeout 2s, smtp_connect_timeout
2s, proxy_connect_timeout 4s, dns_timeout 1s) bound every wait, and the
traffic goes to the partner or waits in a queue."""

import time
import uuid

import pytest

import clusterutil

# Longest a send or a login may take while a host is partitioned: the
# sum of the timeouts on its path with room for a loaded machine.
BOUND = 12.0


@pytest.mark.parametrize("host", ["store1", "ldap2", "mx1"])
def test_partition_is_a_timeout_not_a_hang(cluster, results, host):
    load = clusterutil.Load(cluster, "part-%s-%s" % (host, uuid.uuid4().hex[:6]),
                            readers=("u2@a.test", "u4@b.test"))
    load.start()
    try:
        time.sleep(1.0)
        cluster.partition(host)
        time.sleep(5.0)
        if host == "store1":
            t0 = time.time()
            result, text = cluster.imap_try("u1@a.test")
            assert result == "temporary", text
            assert time.time() - t0 < BOUND
        cluster.heal(host)
        time.sleep(1.0)
    finally:
        load.stop()
    assert not load.errors, load.errors
    found = load.wait_delivered(timeout=60)
    res = load.results(found)
    results["partition " + host] = res
    assert res["lost"] == 0, res
    assert not load.refused, load.refused
    # No send and no login waited past the bound.
    assert res["max_send_s"] < BOUND, res
    for t0, user, result, text, dur in load.logins:
        assert dur < BOUND, (user, result, text, dur)
        assert result != "auth", (host, user, text)
        # u2 and u4 have a live store at all times; with the consumer
        # silent, a search on it gets half of ldap_search_timeout and
        # the retry goes to the provider (ispmail-ldap(5) FAILOVER).
        assert result == "ok", (host, user, result, text)

def partition_under_load(cluster, host, while_partitioned):
    """Partition host for 5 s under load, calling while_partitioned()
    in the middle; the load's results, checked like every partition."""
    load = clusterutil.Load(cluster, "part-%s-%s" % (host, uuid.uuid4().hex[:6]),
                            readers=("u2@a.test", "u4@b.test", "u1@a.test"))
    load.start()
    extra = {}
    try:
        time.sleep(1.0)
        cluster.partition(host)
        t0 = time.time()
        extra.update(while_partitioned())
        time.sleep(max(0.0, t0 + 5.0 - time.time()))
        cluster.heal(host)
        time.sleep(1.0)
    finally:
        load.stop()
    assert not load.errors, load.errors
    found = load.wait_delivered(timeout=60)
    res = load.results(found)
    res.update(extra)
    assert res["lost"] == 0, res
    assert res["duplicated_ours"] == 0, res["duplicates"]
    assert not load.refused, load.refused
    assert res["max_send_s"] < BOUND, res
    for _t0, user, result, text, dur in load.logins:
        assert dur < BOUND, (user, result, text, dur)
        # Neither the DNS nor the provider is on a login's path.
        assert result == "ok", (host, user, result, text)
    return res


def test_partition_dns(cluster, results):
    """The DNS host silent: the MX hosts and the proxies do not wait on
    it (sends and logins within the bound), and mail the Internet's MTA
    must look up MX records for waits in its queue (each lookup bounded
    by dns_timeout) and arrives after the partition heals."""
    tag = "part-dns-inet-" + uuid.uuid4().hex[:6]

    def during():
        t0 = time.time()
        cluster.send_internet(tag, ["u3@b.test"])
        took = time.time() - t0
        assert took < BOUND, took
        time.sleep(2.5)
        assert tag not in cluster.scan(["u3@b.test"])
        return {"internet_send_s": round(took, 3)}

    res = partition_under_load(cluster, "dns", during)
    deadline = time.time() + 40
    while tag not in cluster.scan(["u3@b.test"]) and time.time() < deadline:
        time.sleep(0.5)
    assert tag in cluster.scan(["u3@b.test"]), cluster.log("inet")[-3000:]
    results["partition dns"] = res


def test_partition_ldap1_provider(cluster, results):
    """The provider silent: reads and deliveries go on from the consumer;
    provisioning exits 75 naming the provider within its timeouts; after
    the partition heals the consumer catches up with what is written."""

    def during():
        t0 = time.time()
        r = cluster.ctl("mailbox", "add", "nobody-%s@a.test"
                        % uuid.uuid4().hex[:6], "--password-stdin",
                        stdin="x\n")
        took = time.time() - t0
        assert r.returncode == 75, (r.returncode, r.stderr)
        assert "ldap://%s/" % cluster.addr("ldap1") in r.stderr, r.stderr
        assert took < BOUND, took
        return {"provisioning_exit": r.returncode,
                "provisioning_s": round(took, 3)}

    res = partition_under_load(cluster, "ldap1", during)
    results["partition ldap1"] = res
    # Replication resumes: a mailbox written to the provider now is
    # served (through the consumer) within seconds.
    user = "late-%s@a.test" % uuid.uuid4().hex[:6]
    deadline = time.time() + 30
    while True:
        r = cluster.ctl("mailbox", "add", user, "host=%s"
                        % cluster.addr("store1"), "--password-stdin",
                        stdin=cluster.password + "\n")
        if r.returncode == 0 or time.time() > deadline:
            break
        time.sleep(1)
    assert r.returncode == 0, r.stderr
    while True:
        result, text = cluster.imap_try(user)
        if result == "ok" or time.time() > deadline:
            break
        time.sleep(0.5)
    assert result == "ok", (user, text)
