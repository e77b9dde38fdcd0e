"""TLS reporting (RFC 8460), end to end: the smtp agent journals each TLS
session attempt to a domain with a DANE or MTA-STS policy; `ispmailctl
tlsrpt send` turns the day's journal into one gzipped JSON report per
policy domain and delivers it to the rua URIs of the domain's
_smtp._tls TXT record: a multipart/report mail to a local mailbox, and
an HTTPS POST to a server of the test CA.  One DNSSEC-signed zone
(ldns-signzone) behind a validating unbound serves the MX, TLSA,
_mta-sts and _smtp._tls records; remote MTAs are smtpremoteutil's."""

import email
import gzip
import http.server
import json
import os

import pytest

import dnssecutil
import harness
import mailutil
import smtpremoteutil
import tlsutil
from smtpremoteutil import RemoteMTA

ORIGIN = "rpt.test"
HTTPS_HOST = "127.0.0.6"
RUA_MAILBOX = "alice@example.test"
STS_POLICY = ("version: STSv1\nmode: enforce\nmx: mx.sts.rpt.test\n"
              "max_age: 86400\n")


# smtpd's socket for this host's users: where report mail goes in.
SENDMAIL_SOCKET = harness.Service(
    "sendmail", "smtpd/smtpd", type="unix", listen="public/sendmail",
    maxproc=2, options={"smtpd_mode": "submission"})


@pytest.fixture(scope="module")
def pki():
    """The MTA's certificate names mx.good.rpt.test only; the web server
    serves the MTA-STS policy and takes the HTTPS reports."""
    mta = tlsutil.make_certs(hostname="mx.good.rpt.test")
    web = tlsutil.sign_cert(mta["dir"], "rpt-web",
                            ["mta-sts.sts.rpt.test",
                             "mta-sts.stsfail.rpt.test", "rua.rpt.test"])
    return {"ca": mta["ca"], "mta": mta, "web": web}


class _Web(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0]
        if self.path != "/.well-known/mta-sts.txt" or \
                host == "mta-sts.stsfail.rpt.test":
            self.send_error(404)
            return
        body = STS_POLICY.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.server.posts.append((self.path,
                                  self.headers.get("Content-Type"),
                                  self.rfile.read(length)))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def web(pki):
    httpd = tlsutil.https_server(HTTPS_HOST,
                                 harness.free_port(host=HTTPS_HOST), _Web,
                                 pki["web"])
    httpd.posts = []
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def port():
    return smtpremoteutil.free_port_on(["127.0.0.2", "127.0.0.3"])


@pytest.fixture(scope="module")
def zone(tmp_path_factory, pki, port, web):
    spki = tlsutil.spki_sha256(pki["mta"]["cert"])
    rua_https = "https://rua.rpt.test:%d/v1/tlsrpt" % web.server_address[1]
    records = [
        # DANE, matching: a success, reported by HTTPS.
        "good IN MX 10 mx.good",
        "mx.good IN A 127.0.0.2",
        "_%d._tcp.mx.good IN TLSA 3 1 1 %s" % (port, spki),
        '_smtp._tls.good IN TXT "v=TLSRPTv1; rua=%s"' % rua_https,
        # DANE, a TLSA record that matches nothing: reported by mail.
        "dane IN MX 10 mx.dane",
        "mx.dane IN A 127.0.0.2",
        "_%d._tcp.mx.dane IN TLSA 3 1 1 %s" % (port, "ab" * 32),
        '_smtp._tls.dane IN TXT "v=TLSRPTv1; rua=mailto:%s"' % RUA_MAILBOX,
        # MTA-STS enforce; the MX's certificate names another host.
        "sts IN MX 10 mx.sts",
        "mx.sts IN A 127.0.0.2",
        '_mta-sts.sts IN TXT "v=STSv1; id=20261202T1;"',
        "mta-sts.sts IN A %s" % HTTPS_HOST,
        '_smtp._tls.sts IN TXT "v=TLSRPTv1;rua=mailto:%s,%s"'
        % (RUA_MAILBOX, rua_https),
        # A published MTA-STS policy that cannot be fetched (404).
        "stsfail IN MX 10 mx.stsfail",
        "mx.stsfail IN A 127.0.0.2",
        '_mta-sts.stsfail IN TXT "v=STSv1; id=20261202T1;"',
        "mta-sts.stsfail IN A %s" % HTTPS_HOST,
        '_smtp._tls.stsfail IN TXT "v=TLSRPTv1; rua=%s"' % rua_https,
        # DANE, but the MX offers no STARTTLS.
        "plain IN MX 10 mx.plain",
        "mx.plain IN A 127.0.0.3",
        "_%d._tcp.mx.plain IN TLSA 3 1 1 %s" % (port, spki),
        '_smtp._tls.plain IN TXT "v=TLSRPTv1; rua=%s"' % rua_https,
        # DANE, matching, but no TLSRPT record: no report.
        "quiet IN MX 10 mx.quiet",
        "mx.quiet IN A 127.0.0.2",
        "_%d._tcp.mx.quiet IN TLSA 3 1 1 %s" % (port, spki),
        "rua IN A %s" % HTTPS_HOST,
    ]
    server = dnssecutil.SignedZone(str(tmp_path_factory.mktemp("dnssec")),
                                   ORIGIN, records).start()
    yield server
    server.stop()


def journal(inst):
    """The journal's records, as lists of (name, value), by file day."""
    out = {}
    directory = os.path.join(inst.queue_dir, "tlsrpt")
    for name in sorted(os.listdir(directory)):
        if name.startswith("sent."):
            continue
        with open(os.path.join(directory, name)) as f:
            for block in f.read().split("\n\n"):
                if block.strip():
                    out.setdefault(name[:10], []).append(
                        [tuple(line.split("=", 1))
                         for line in block.split("\n")])
    return out


def count(records, domain, result):
    return sum(1 for r in records if ("domain", domain) in r and
               (("result", result) in r if result else
                ("result", "success") not in r))


def check_report(report, domain, day, records):
    """RFC 8460 4.4: the fields, and counts that add up to the journal."""
    assert report["organization-name"] == "Example ISP"
    assert report["contact-info"] == "tlsrpt-admin@example.test"
    assert report["date-range"] == {"start-datetime": day + "T00:00:00Z",
                                    "end-datetime": day + "T23:59:59Z"}
    assert report["report-id"]
    [policy] = report["policies"]
    assert policy["policy"]["policy-domain"] == domain
    summary = policy["summary"]
    assert summary["total-successful-session-count"] == \
        count(records, domain, "success")
    assert summary["total-failure-session-count"] == \
        count(records, domain, None)
    assert summary["total-failure-session-count"] == sum(
        d["failed-session-count"] for d in policy.get("failure-details", []))
    return policy


def test_reports_by_mail_and_https(make_instance, pki, port, zone, web):
    mta = RemoteMTA("127.0.0.2", port, name="mx.good.rpt.test",
                    certs=pki["mta"]).start()
    plain = RemoteMTA("127.0.0.3", port, name="mx.plain.rpt.test").start()
    try:
        inst = smtpremoteutil.start_outbound(make_instance, zone.address,
                                             port, {
            "smtp_dnssec_resolvers": zone.address,
            "smtp_tls_ca_file": pki["ca"],
            "smtp_mta_sts_port": str(web.server_address[1]),
            "smtp_mta_sts_timeout": "5s",
            "smtp_tlsrpt_enable": "yes",
            "tlsrpt_organization_name": "Example ISP",
            "tlsrpt_contact_info": "tlsrpt-admin@example.test",
            "tlsrpt_sender_address": "bob@example.test",
        }, extra_services=[SENDMAIL_SOCKET])
        ok = smtpremoteutil.submit(inst, ["u@good.rpt.test"],
                                   "Subject: g\r\n\r\ng\r\n")
        inst.wait_for_log(r"%s: to=<u@good.rpt.test>, .*"
                          r"tls=dane-ee/verified, status=sent" % ok,
                          timeout=20)
        fail = smtpremoteutil.submit(inst, ["u@stsfail.rpt.test"],
                                     "Subject: f\r\n\r\nf\r\n")
        inst.wait_for_log(r"%s: to=<u@stsfail.rpt.test>, .*status=sent"
                          % fail, timeout=20)
        quiet = smtpremoteutil.submit(inst, ["u@quiet.rpt.test"],
                                      "Subject: q\r\n\r\nq\r\n")
        inst.wait_for_log(r"%s: to=<u@quiet.rpt.test>, .*status=sent"
                          % quiet, timeout=20)
        bad = [smtpremoteutil.submit(inst, ["u@%s.rpt.test" % d],
                                     "Subject: %s\r\n\r\nx\r\n" % d)
               for d in ("dane", "sts", "plain")]
        for qid, d in zip(bad, ("dane", "sts", "plain")):
            inst.wait_for_log(r"%s: to=<u@%s.rpt.test>, .*status=deferred "
                              r"\(451 4.7.[45]" % (qid, d), timeout=20)
        # No more attempts: the counts below stay as they are.
        for qid in bad:
            inst.wait_for(lambda: inst.ctl("queue", "hold", qid)
                          .returncode == 0, timeout=10,
                          what="hold " + qid)
        inst.wait_for(lambda: mailutil.queue_empty(inst), timeout=20,
                      what="an empty queue")
        assert len(mta.messages) == 3

        days = journal(inst)
        [(day, records)] = days.items()
        assert count(records, "dane.rpt.test", "tlsa-invalid") >= 1
        assert count(records, "sts.rpt.test",
                     "certificate-host-mismatch") >= 1
        assert count(records, "good.rpt.test", "success") == 1

        # What would be sent, without sending.
        shown = inst.ctl("tlsrpt", "show", "--date", day, "dane.rpt.test")
        assert shown.returncode == 0, shown.stderr
        check_report(json.loads(shown.stdout), "dane.rpt.test", day,
                     records)

        r = inst.ctl("tlsrpt", "send", "--date", day, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "TLS report for quiet.rpt.test: no TLSRPT record" in r.stderr

        # By mail: dane and sts, each a multipart/report to the mailbox.
        msgs = mailutil.wait_messages(inst, RUA_MAILBOX, 2)
        reports = {}
        for raw in msgs:
            msg = email.message_from_bytes(raw)
            assert msg.get_content_type() == "multipart/report"
            assert msg.get_param("report-type") == "tlsrpt"
            domain = msg["TLS-Report-Domain"]
            assert msg["Subject"].startswith("Report Domain: %s Submitter: "
                                             % domain)
            [part] = [p for p in msg.walk() if p.get_content_type() ==
                      "application/tlsrpt+gzip"]
            assert part.get_filename().endswith(".json.gz")
            assert "!%s!" % domain in part.get_filename()
            reports[domain] = json.loads(gzip.decompress(
                part.get_payload(decode=True)))
        assert sorted(reports) == ["dane.rpt.test", "sts.rpt.test"]

        dane = check_report(reports["dane.rpt.test"], "dane.rpt.test", day,
                            records)
        assert dane["policy"]["policy-type"] == "tlsa"
        assert dane["policy"]["policy-string"] == ["3 1 1 " + "AB" * 32]
        assert dane["policy"]["mx-host"] == ["mx.dane.rpt.test"]
        [detail] = dane["failure-details"]
        assert detail["result-type"] == "tlsa-invalid"
        assert detail["receiving-mx-hostname"] == "mx.dane.rpt.test"
        assert detail["receiving-ip"] == "127.0.0.2"
        assert detail["sending-mta-ip"] == "127.0.0.1"

        sts = check_report(reports["sts.rpt.test"], "sts.rpt.test", day,
                           records)
        assert sts["policy"]["policy-type"] == "sts"
        assert sts["policy"]["policy-string"] == [
            "version: STSv1", "mode: enforce", "mx: mx.sts.rpt.test",
            "max_age: 86400"]
        assert sts["policy"]["mx-host"] == ["mx.sts.rpt.test"]
        assert {d["result-type"] for d in sts["failure-details"]} == \
            {"certificate-host-mismatch"}

        # By HTTPS: good, plain, stsfail (their only rua), sts (its second).
        posted = {}
        for path, ctype, body in web.posts:
            assert path == "/v1/tlsrpt"
            assert ctype == "application/tlsrpt+gzip"
            report = json.loads(gzip.decompress(body))
            posted[report["policies"][0]["policy"]["policy-domain"]] = \
                report
        assert sorted(posted) == ["good.rpt.test", "plain.rpt.test",
                                  "sts.rpt.test", "stsfail.rpt.test"]
        good = check_report(posted["good.rpt.test"], "good.rpt.test", day,
                            records)
        assert good["summary"] == {"total-successful-session-count": 1,
                                   "total-failure-session-count": 0}
        assert good["policy"]["policy-string"] == \
            ["3 1 1 " + tlsutil.spki_sha256(pki["mta"]["cert"]).upper()]

        fetch = check_report(posted["stsfail.rpt.test"], "stsfail.rpt.test",
                             day, records)
        assert fetch["policy"]["policy-type"] == "sts"
        assert fetch["failure-details"] == [
            {"result-type": "sts-policy-fetch-error",
             "failed-session-count": 1}]

        starttls = check_report(posted["plain.rpt.test"], "plain.rpt.test",
                                day, records)
        assert {d["result-type"] for d in starttls["failure-details"]} == \
            {"starttls-not-supported"}
        assert plain.messages == []

        # A second run sends nothing again.
        r = inst.ctl("tlsrpt", "send", "--date", day, timeout=60)
        assert r.returncode == 0, r.stderr
        assert len(web.posts) == 4
        smtpremoteutil.assert_no_sanitizer_reports(inst)
    finally:
        mta.stop()
        plain.stop()


def test_damaged_journal_is_skipped(make_instance, pki, port, zone, web):
    """A truncated record, a record cut short by the next one, a line
    too long and bytes that are no record are skipped and named on
    stderr; the good records are still counted."""
    inst = smtpremoteutil.start_outbound(make_instance, zone.address, port, {
        "smtp_dnssec_resolvers": zone.address,
        "tlsrpt_organization_name": "Example ISP",
        "tlsrpt_contact_info": "tlsrpt-admin@example.test",
    })
    day = "2026-01-15"
    good = ("tlsrpt=1\ntime=1768435200\ndomain=dane.rpt.test\n"
            "policy_type=tlsa\nresult=%s\nmx_host=mx.dane.rpt.test\n"
            "receiving_ip=127.0.0.2\nsending_ip=127.0.0.1\n"
            "policy_string=3 1 1 AB\npolicy_mx=mx.dane.rpt.test\n\n")
    path = os.path.join(inst.queue_dir, "tlsrpt", day + ".4242")
    with open(path, "w") as f:
        f.write(good % "success")
        f.write(good % "tlsa-invalid")
        f.write("tlsrpt=1\ntime=1768435200\ndomain=dane.rp")  # cut short
        f.write("\n" + good % "success")
        f.write("\x00\x01binary junk\n\n")
        f.write("tlsrpt=1\ndomain=x%0Ay\npolicy_type=sts\nresult=a\n\n")
        f.write("tlsrpt=1\ndetail=" + "x" * 40000 + "\n\n")  # too long
        f.write(good % "tlsa-invalid")
        f.write("tlsrpt=1\ntime=1768435200\ndomain=dane.rpt.t")  # at EOF
    r = inst.ctl("tlsrpt", "show", "--date", day)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    [policy] = report["policies"]
    assert policy["summary"] == {"total-successful-session-count": 2,
                                 "total-failure-session-count": 2}
    assert "cut short by the next record" in r.stderr
    assert "truncated, no end" in r.stderr
    assert "not printable text" in r.stderr
    assert "too large" in r.stderr
    assert "5 damaged records skipped" in r.stderr
    smtpremoteutil.assert_no_sanitizer_reports(inst)
