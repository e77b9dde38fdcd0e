"""MTA-STS (RFC 8461) in the smtp agent, end to end: _mta-sts TXT
records from a real dnsmasq, the policies served over HTTPS by a Python
server the test starts (http.server with ssl, a test CA), remote MTAs
with certificates of that CA.  enforce: delivered with a verified
certificate; an MX that the policy does not list, or a certificate that
does not name the MX, defers (4.7.5) and nothing is sent; testing: a
mismatch is logged and the mail delivered; the policy is cached in
queue_directory/mta-sts and used when the policy host is gone."""

import http.server
import os
import re
import time

import pytest

import dnsutil
import harness
import smtpremoteutil
import tlsutil
from smtpremoteutil import RemoteMTA

HTTPS_HOST = "127.0.0.6"

POLICIES = {
    "enforce.test": "version: STSv1\nmode: enforce\nmx: mx.enforce.test\n"
                    "mx: *.backup.test\nmax_age: 86400\n",
    "mismatch.test": "version: STSv1\r\nmode: enforce\r\n"
                     "mx: mx.elsewhere.test\r\nmax_age: 86400\r\n",
    "badcert.test": "version: STSv1\nmode: enforce\nmx: *.badcert.test\n"
                    "max_age: 86400\n",
    "testing.test": "version: STSv1\nmode: testing\nmx: mx.elsewhere.test\n"
                    "max_age: 86400\n",
}

ZONE = [
    "--mx-host=enforce.test,mx.enforce.test,10",
    "--host-record=mx.enforce.test,127.0.0.2",
    "--mx-host=mismatch.test,mx.mismatch.test,10",
    "--host-record=mx.mismatch.test,127.0.0.2",
    # Its MX answers with the certificate of mx.enforce.test.
    "--mx-host=badcert.test,mx.badcert.test,10",
    "--host-record=mx.badcert.test,127.0.0.2",
    "--mx-host=testing.test,mx.testing.test,10",
    "--host-record=mx.testing.test,127.0.0.3",
]
for _domain in POLICIES:
    ZONE.append("--txt-record=_mta-sts.%s,v=STSv1; id=20261202T1;" % _domain)
    ZONE.append("--host-record=mta-sts.%s,%s" % (_domain, HTTPS_HOST))


@pytest.fixture(scope="module")
def pki():
    enforce = tlsutil.make_certs(hostname="mx.enforce.test")
    testing = tlsutil.sign_cert(enforce["dir"], "mx-testing", ["mx.testing.test"])
    web = tlsutil.sign_cert(enforce["dir"], "web",
                ["mta-sts." + d for d in POLICIES])
    return {"ca": enforce["ca"], "enforce": enforce, "testing": testing,
            "web": web}


class _Policy(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0]
        domain = host[len("mta-sts."):] if host.startswith("mta-sts.") \
            else ""
        self.server.requests.append((host, self.path))
        time.sleep(getattr(self.server, "delay", 0))
        if self.path != "/.well-known/mta-sts.txt" or \
                domain not in POLICIES:
            self.send_error(404)
            return
        body = POLICIES[domain].encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def policy_server(pki):
    httpd = tlsutil.https_server(HTTPS_HOST,
                                 harness.free_port(host=HTTPS_HOST),
                                 _Policy, pki["web"])
    httpd.requests = []
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    server = dnsutil.DnsServer(str(tmp_path_factory.mktemp("dns")),
                               zone=ZONE).start()
    yield server
    server.stop()


def test_mta_sts_enforce_testing_and_cache(make_instance, pki, dns,
                                           policy_server):
    port = smtpremoteutil.free_port_on(["127.0.0.2", "127.0.0.3"])
    good = RemoteMTA("127.0.0.2", port, name="mx.enforce.test",
                     certs=pki["enforce"]).start()
    other = RemoteMTA("127.0.0.3", port, name="mx.testing.test",
                      certs=pki["testing"]).start()
    try:
        inst = smtpremoteutil.start_outbound(make_instance, dns.address,
                                             port, {
            "smtp_tls_ca_file": pki["ca"],
            "smtp_mta_sts_port": str(policy_server.server_address[1]),
            "smtp_mta_sts_timeout": "5s",
        })

        # enforce, the MX listed, the certificate verified.
        qid = smtpremoteutil.submit(inst, ["u@enforce.test"],
                                    "Subject: e\r\n\r\ne\r\n")
        inst.wait_for_log(r"MTA-STS policy of enforce.test: id 20261202T1, "
                          r"mode enforce, max_age 86400", timeout=20)
        inst.wait_for_log(r"%s: to=<u@enforce.test>, relay=mx.enforce.test"
                          r"\[127.0.0.2\]:%d, .*tls=mta-sts/enforce, "
                          r"status=sent" % (qid, port), timeout=20)
        [msg] = good.wait_messages(1, inst=inst)
        assert msg.session.tls in ("TLSv1.2", "TLSv1.3")
        cache = os.path.join(inst.queue_dir, "mta-sts", "enforce.test")
        with open(cache) as f:
            assert "mode: enforce" in f.read()
        assert ("mta-sts.enforce.test",
                "/.well-known/mta-sts.txt") in policy_server.requests

        # enforce, an MX the policy does not list: deferred, not sent.
        qid = smtpremoteutil.submit(inst, ["u@mismatch.test"],
                                    "Subject: m\r\n\r\nm\r\n")
        inst.wait_for_log(r"%s: to=<u@mismatch.test>, .*status=deferred "
                          r"\(451 4.7.5 MX host mx.mismatch.test does not "
                          r"match the MTA-STS policy of mismatch.test"
                          % qid, timeout=20)
        # enforce, the certificate names another host: deferred.
        qid = smtpremoteutil.submit(inst, ["u@badcert.test"],
                                    "Subject: b\r\n\r\nb\r\n")
        inst.wait_for_log(r"TLS with mx.badcert.test\[127.0.0.2\]:%d failed "
                          r"\(level verify, MTA-STS\)" % port, timeout=20)
        inst.wait_for_log(r"%s: to=<u@badcert.test>, .*status=deferred "
                          r"\(451 4.7.5" % qid, timeout=20)
        assert len(good.messages) == 1
        assert all(s.tls is not None for s in good.sessions
                   if any(c.upper().startswith("MAIL")
                          for c in s.commands))

        # testing: the MX is not listed; logged, delivered.
        qid = smtpremoteutil.submit(inst, ["u@testing.test"],
                                    "Subject: t\r\n\r\nt\r\n")
        inst.wait_for_log(r"MTA-STS testing: MX host mx.testing.test does "
                          r"not match the policy of testing.test; "
                          r"delivering anyway", timeout=20)
        inst.wait_for_log(r"%s: to=<u@testing.test>, .*"
                          r"tls=mta-sts/testing/verified, status=sent"
                          % qid, timeout=20)
        other.wait_messages(1, inst=inst)

        # The policy host is gone: the cached policy still holds.
        policy_server.shutdown()
        policy_server.server_close()
        seen = len(policy_server.requests)
        qid = smtpremoteutil.submit(inst, ["v@enforce.test"],
                                    "Subject: c\r\n\r\nc\r\n")
        inst.wait_for_log(r"%s: to=<v@enforce.test>, .*tls=mta-sts/enforce,"
                          r" status=sent" % qid, timeout=20)
        assert len(policy_server.requests) == seen
        smtpremoteutil.assert_no_sanitizer_reports(inst)
    finally:
        good.stop()
        other.stop()


def test_cached_policy_past_half_its_max_age_is_refreshed_in_background(
        make_instance, pki, dns, policy_server):
    """RFC 8461 10.2: a cached policy used after half its max_age is
    fetched again by a background process; the delivery goes on with the
    cached policy without waiting for it (the policy server is slow)."""
    port = smtpremoteutil.free_port_on(["127.0.0.2"])
    good = RemoteMTA("127.0.0.2", port, name="mx.enforce.test",
                     certs=pki["enforce"]).start()
    try:
        inst = smtpremoteutil.start_outbound(make_instance, dns.address,
                                             port, {
            "smtp_tls_ca_file": pki["ca"],
            "smtp_mta_sts_port": str(policy_server.server_address[1]),
            "smtp_mta_sts_timeout": "10s",
        })
        qid = smtpremoteutil.submit(inst, ["u@enforce.test"],
                                    "Subject: 1\r\n\r\n1\r\n")
        inst.wait_for_log(r"%s: to=<u@enforce.test>, .*tls=mta-sts/enforce,"
                          r" status=sent" % qid, timeout=20)
        assert len(policy_server.requests) == 1
        cache = os.path.join(inst.queue_dir, "mta-sts", "enforce.test")
        with open(cache) as f:
            text = f.read()
        fetched = int(re.search(r"^fetched: (\d+)$", text, re.M).group(1))
        assert abs(fetched - time.time()) < 60

        # Still fresh (less than half of max_age 86400): no fetch.
        qid = smtpremoteutil.submit(inst, ["v@enforce.test"],
                                    "Subject: 2\r\n\r\n2\r\n")
        inst.wait_for_log(r"%s: to=<v@enforce.test>, .*status=sent" % qid,
                          timeout=20)
        assert len(policy_server.requests) == 1

        # Fetched 50,000 s ago: past half its max_age, not expired.
        old = int(time.time()) - 50000
        with open(cache, "w") as f:
            f.write(re.sub(r"^fetched: \d+$", "fetched: %d" % old, text,
                           flags=re.M))
        policy_server.delay = 4
        started = time.monotonic()
        qid = smtpremoteutil.submit(inst, ["w@enforce.test"],
                                    "Subject: 3\r\n\r\n3\r\n")
        inst.wait_for_log(r"MTA-STS policy of enforce.test: fetched 500\d\ds "
                          r"ago, max_age 86400: refreshing it in the "
                          r"background", timeout=20)
        inst.wait_for_log(r"%s: to=<w@enforce.test>, .*tls=mta-sts/enforce,"
                          r" status=sent" % qid, timeout=20)
        # Delivered before the slow fetch could have ended.
        assert time.monotonic() - started < policy_server.delay, (
            "the delivery waited for the refresh")
        # The refresh lands: fetched again, the cache file renewed.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(cache) as f:
                now_text = f.read()
            m = re.search(r"^fetched: (\d+)$", now_text, re.M)
            if m and int(m.group(1)) > old + 40000:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("cache not refreshed: " + now_text)
        assert len(policy_server.requests) == 2
        assert "mode: enforce" in now_text
        assert not os.path.exists(os.path.join(
            inst.queue_dir, "mta-sts", ".refresh.enforce.test"))
        smtpremoteutil.assert_no_sanitizer_reports(inst)
    finally:
        good.stop()
