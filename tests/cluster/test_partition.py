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
