"""Sender authentication's DNS answer cache (smtpd_authres_dns.c, issue
18): answers are kept for their TTL in SMTPD_AUTHRES_DNS_CACHE (512)
slots a process, the oldest making room, found through a hash index.

One smtpd process (maxproc 1), one session; dnsmasq (answers with a TTL
of 300 s) logs every question, so the test counts what smtpd asked.
Unsigned mail from dN.test: two answers a domain (its SPF record and
_dmarc.dN.test)."""

import os
import re
import smtplib

import pytest

import dnsutil
from test_sender_auth import checking_mx

CLIENT = "192.0.2.9"
DOMAINS = 300


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("cache"))
    zone = list(dnsutil.TEST_ZONE)
    for k in range(DOMAINS):
        zone += ["--txt-record=d%d.test,v=spf1 ip4:192.0.2.9 -all" % k,
                 "--txt-record=_dmarc.d%d.test,v=DMARC1; p=none" % k]
    server = dnsutil.DnsServer(os.path.join(work, "dns"), zone=zone,
                               extra=["--local-ttl=300"])
    server.start()
    inst = checking_mx("ispmail-sauth-cache", server.address)
    inst.start()
    inst.dns = server
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=30)
    s.ehlo("client.example.net")
    code, text = s.docmd("XCLIENT", "ADDR=" + CLIENT)
    assert code == 220, text
    s.ehlo("client.example.net")
    inst.session = s
    yield inst
    s.quit()
    log = inst.log()
    inst.close()
    server.stop()
    for marker in ("runtime error:", "AddressSanitizer", "LeakSanitizer"):
        assert marker not in log, log[-3000:]


def send_from(inst, domains):
    """One unsigned message from each domain; each one passes SPF."""
    before = inst.log().count(" spf=pass dmarc=pass ")
    for k in domains:
        sender = "news@d%d.test" % k
        inst.session.sendmail(sender, ["alice@example.test"],
                              b"From: " + sender.encode() +
                              b"\r\nSubject: cache\r\n\r\nBody.\r\n")
    assert inst.log().count(" spf=pass dmarc=pass ") == \
        before + len(domains), inst.log()[-2000:]


def asked(inst, k):
    """How often smtpd asked for dK.test's SPF and DMARC records."""
    log = inst.dns.log()
    return (len(re.findall(r"query\[TXT\] d%d\.test from" % k, log)),
            len(re.findall(r"query\[TXT\] _dmarc\.d%d\.test from" % k,
                           log)))


def test_answers_kept_past_128(cached):
    """Ten domains, then 100 others (220 answers: the 128 slots of
    before would have dropped the first ten), then the ten again: their
    answers come from the cache."""
    send_from(cached, range(10))
    send_from(cached, range(10, 110))
    send_from(cached, range(10))
    for k in range(10):
        assert asked(cached, k) == (1, 1), (k, asked(cached, k))


def test_oldest_answers_make_room(cached):
    """Past 512 answers the oldest go (asked again, still right) and
    the recent ones stay."""
    send_from(cached, range(110, 300))     # 600 answers in all
    send_from(cached, [0, 1])
    assert asked(cached, 0) == (2, 2), asked(cached, 0)
    assert asked(cached, 1) == (2, 2), asked(cached, 1)
    send_from(cached, range(290, 300))
    for k in range(290, 300):
        assert asked(cached, k) == (1, 1), (k, asked(cached, k))
