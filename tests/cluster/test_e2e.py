"""End to end across the hosts: the Internet's MTA finds the customers'
MX hosts in DNS and delivers to both stores; the customers read through
the proxy tier (IMAPS and POP3S); a customer submits through proxy1 and
out1 to the Internet; the same over IPv6."""

import re
import smtplib
import time
import uuid

import clusterutil


def wait_for(cluster, ids, mailboxes, timeout=40):
    deadline = time.time() + timeout
    while True:
        found = cluster.scan(mailboxes)
        if all({a for a, _m in found.get(i, [])} >= set(mailboxes)
               for i in ids) or time.time() > deadline:
            return found
        time.sleep(0.3)


def test_internet_to_both_stores_and_back_through_proxy(cluster):
    tag = "e2e-" + uuid.uuid4().hex[:8]
    cluster.send_internet(tag, clusterutil.MAILBOXES)
    found = wait_for(cluster, [tag], clusterutil.MAILBOXES)
    got = sorted(a for a, _m in found.get(tag, []))
    assert got == sorted(clusterutil.MAILBOXES), found.get(tag)
    # Through the MX records: the Internet's agent names an MX host.
    inet = cluster.log("inet")
    assert "relay=mx1.cluster.test" in inet or "relay=mx2.cluster.test" in inet
    # Read back through the proxy, from each store host.
    for user in ("u1@a.test", "u3@b.test", "u2@a.test"):
        c = cluster.imap(user)
        try:
            typ, data = c.select("INBOX")
            assert typ == "OK"
            typ, data = c.search(None, "HEADER", "X-Cluster-Id", tag)
            assert typ == "OK" and data[0].split(), (user, data)
            typ, data = c.fetch(data[0].split()[0], "(BODY.PEEK[HEADER])")
            assert ("X-Cluster-Id: " + tag).encode() in data[0][1]
        finally:
            c.logout()
    p = cluster.pop3("u4@b.test")
    try:
        count, _size = p.stat()
        assert count >= 1
        lines = b"\n".join(p.top(count, 0)[1])
        assert ("X-Cluster-Id: " + tag).encode() in lines
    finally:
        p.quit()
    proxy = cluster.log("proxy1") + cluster.log("proxy2")
    assert "backend=%s" % cluster.addr("store1") in proxy
    assert "backend=%s" % cluster.addr("store2") in proxy
    # One password check per login: the proxy's; the stores took the
    # proxy tier's token (proxy_login_token_file, roles proxy and store).
    stores = cluster.log("store1") + cluster.log("store2")
    assert re.search(r"login user=u1@a\.test method=proxy client=\S+ via "
                     r"proxy ", stores), stores[-3000:]
    assert re.search(r"login u4@b\.test from \S+ via proxy ", stores), \
        stores[-3000:]
    assert "refused the proxy login token" not in proxy


def test_submission_through_proxy_and_out_to_internet(cluster):
    tag = "sub-" + uuid.uuid4().hex[:8]
    cluster.submit(tag, "u3@b.test", "r1@remote.test")
    found = wait_for(cluster, [tag], ["r1@remote.test"])
    assert tag in found, cluster.log("out1")[-3000:]
    with open(_path(cluster, found[tag][0]), "rb") as f:
        head = f.read(8192)
    # Received by out1's smtpd for the login the proxy named.
    assert b"by out1.cluster.test" in head
    # out1's agent logs the remote 250 after inet may have delivered.
    deadline = time.time() + 10
    while "relay=inet.cluster.test" not in cluster.log("out1") \
            and time.time() < deadline:
        time.sleep(0.2)
    assert "relay=inet.cluster.test" in cluster.log("out1")


def _path(cluster, hit):
    import os
    address, mtime = hit
    base = cluster.maildir(address)
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(base, sub)):
            p = os.path.join(base, sub, name)
            if os.stat(p).st_mtime == mtime:
                return p
    raise AssertionError("message file vanished")


def test_provisioning_reaches_every_host_through_the_consumer(cluster):
    """A mailbox written to the provider is served by hosts that read
    the consumer (syncrepl), within seconds."""
    addr = "new-%s@a.test" % uuid.uuid4().hex[:6]
    r = cluster.ctl("mailbox", "add", addr, "host=%s,%s" % (
        cluster.addr("store1"), cluster.addr("store2")), "--password-stdin",
        stdin=cluster.password + "\n")
    assert r.returncode == 0, r.stderr
    tag = "prov-" + uuid.uuid4().hex[:8]
    deadline = time.time() + 20
    mx = None
    while mx is None and time.time() < deadline:
        mx = cluster.send_mx(tag, addr)
        if mx is None:
            time.sleep(0.5)     # the consumer or the MX cache catching up
    assert mx is not None
    found = wait_for(cluster, [tag], [addr])
    assert tag in found
    r = cluster.ctl("mailbox", "del", addr, "--remove-store")
    assert r.returncode == 0, r.stderr


def test_ipv6_internet_to_mx_to_store_and_read_through_proxy(cluster):
    """Over IPv6 end to end: the MX and proxy names have AAAA records;
    a message from the Internet to an MX's IPv6 address reaches the
    store and is read through the proxy tier's IPv6 addresses."""
    mx6 = cluster.resolve("mx1.cluster.test", "AAAA")
    assert mx6 == [cluster.env["MX1_ADDR6"]], mx6
    assert sorted(cluster.resolve("proxy.cluster.test", "AAAA")) == sorted(
        [cluster.env["PROXY1_ADDR6"], cluster.env["PROXY2_ADDR6"]])
    tag = "v6-" + uuid.uuid4().hex[:8]
    with clusterutil.in_netns(cluster.env["CLIENT_NS"]):
        s = smtplib.SMTP(mx6[0], 25, timeout=clusterutil.IO_TIMEOUT)
    with s:
        s.sendmail("sender@remote.test", ["u1@a.test"],
                   clusterutil.message(tag, "u1@a.test"))
    found = wait_for(cluster, [tag], ["u1@a.test"])
    assert tag in found
    mx = cluster.log("mx1")
    assert "client=%s" % cluster.env["INET_ADDR6"] in mx, mx[-2000:]
    c = cluster.imap("u1@a.test", family=6)
    try:
        assert c.select("INBOX")[0] == "OK"
        typ, data = c.search(None, "HEADER", "X-Cluster-Id", tag)
        assert typ == "OK" and data[0].split(), data
    finally:
        c.logout()
    proxies = cluster.log("proxy1") + cluster.log("proxy2")
    assert "client=%s" % cluster.env["INET_ADDR6"] in proxies
