"""smtpd reputation checks (smtpd_reputation.c) against a real dnsmasq:
block lists with weights, reply filters and a threshold, the allow list,
the postmaster exception, a DNS timeout that never rejects, pregreet,
FCrDNS and HELO syntax.  Clients pick their source address on loopback:
127.0.0.1 is listed, 127.0.0.9 is clean."""

import smtplib
import socket
import time

import pytest

import dnsutil
import harness
import mailutil
import tlsutil

LISTED = "127.0.0.1"
CLEAN = "127.0.0.9"
LIAR = "127.0.0.5"      # PTR liar.test, whose A is 127.0.0.6
NO_PTR = "127.0.0.7"

ZONE = dnsutil.TEST_ZONE + [
    # 127.0.0.1 on three lists: bl.test (with a text), zen.test (code 10),
    # pbl.test (code 11, which a filter [2..4] must not count).
    "--address=/1.0.0.127.bl.test/127.0.0.2",
    "--txt-record=1.0.0.127.bl.test,Listed: see https://bl.test/?127.0.0.1",
    "--address=/1.0.0.127.zen.test/127.0.0.10",
    "--address=/1.0.0.127.pbl.test/127.0.0.11",
    # Reverse DNS: 127.0.0.1 <-> client.test; 127.0.0.5 -> liar.test,
    # which points elsewhere; 127.0.0.7 has none.
    "--host-record=client.test,127.0.0.1",
    "--ptr-record=5.0.0.127.in-addr.arpa,liar.test",
    "--host-record=liar.test,127.0.0.6",
]


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    server = dnsutil.DnsServer(str(tmp_path_factory.mktemp("dns")),
                               zone=ZONE)
    server.start()
    yield server
    server.stop()


STARTED = []


@pytest.fixture(autouse=True)
def sanitizer_clean():
    """The ASan/UBSan build must run clean: no report in any log."""
    del STARTED[:]
    yield
    for inst in STARTED:
        log = inst.log()
        for marker in ("runtime error:", "AddressSanitizer",
                       "LeakSanitizer"):
            assert marker not in log, log[-3000:]


def mx_service(name, **options):
    """An mx smtpd; -o values in master.conf take commas, not spaces."""
    opts = {"smtpd_mode": "mx"}
    opts.update(options)
    return harness.Service(name, "smtpd/smtpd", maxproc=2, options=opts)


def start(make_instance, certs, services, params):
    inst = make_instance(services=services)
    inst.params.update(mailutil.base_params(inst, certs))
    inst.params.update(params)
    inst.write_main_conf()
    ctl = mailutil.provision(inst)
    ctl("alias", "add", "postmaster@example.test", "alice@example.test")
    inst.start()
    STARTED.append(inst)
    return inst


def session(inst, service="smtp", source=CLEAN, helo="client.example.net"):
    s = smtplib.SMTP("127.0.0.1", inst.port(service), timeout=15,
                     source_address=(source, 0))
    code, _ = s.ehlo(helo)
    assert code == 250
    code, reply = s.mail("sender@remote.example")
    assert code == 250, reply
    return s


def rcpt(inst, address, **kwargs):
    s = session(inst, **kwargs)
    try:
        return s.rcpt(address)
    finally:
        s.quit()


def test_listed_client_refused_with_listing(make_instance, certs, dns):
    inst = start(make_instance, certs, [mx_service("smtp")],
                 {"dns_servers": dns.address, "dnsbl_sites": "bl.test"})
    code, text = rcpt(inst, "alice@example.test", source=LISTED)
    assert code == 554, text
    assert text.startswith(b"5.7.1 "), text
    assert b"client [127.0.0.1]" in text
    assert b"listed by bl.test" in text
    assert b"Listed: see https://bl.test/?127.0.0.1" in text
    inst.wait_for_log(r"reputation: reject client=127\.0\.0\.1 score=1 "
                      r"threshold=1 reasons=listed by bl\.test")
    # Every recipient is refused, so DATA has nobody to deliver to.
    s = session(inst, source=LISTED)
    assert s.rcpt("bob@example.test")[0] == 554
    assert s.docmd("DATA")[0] in (503, 554)
    s.quit()
    # A clean client is not touched.
    assert rcpt(inst, "alice@example.test", source=CLEAN)[0] == 250
    assert mailutil.queue_files(inst) == []


def test_postmaster_always_accepted(make_instance, certs, dns):
    inst = start(make_instance, certs, [mx_service("smtp")],
                 {"dns_servers": dns.address, "dnsbl_sites": "bl.test"})
    s = session(inst, source=LISTED)
    assert s.rcpt("alice@example.test")[0] == 554
    code, text = s.rcpt("PostMaster@Example.TEST")
    assert code == 250, text
    # Only the postmaster of our own domains.
    assert s.rcpt("postmaster@elsewhere.example")[0] == 554
    code, text = s.data(b"Subject: help\r\n\r\nWhy am I listed?\r\n")
    assert code == 250, text
    s.quit()
    assert len(mailutil.queue_files(inst)) == 1
    inst.wait_for_log(r"client=127\.0\.0\.1 score=1: mail to the "
                      r"postmaster allowed")


def test_allow_networks(make_instance, certs, dns):
    services = [mx_service("smtp"),
                mx_service("smtp6", dnsbl_allow_networks="::1,10.0.0.0/8"),
                mx_service("smtpnet",
                           dnsbl_allow_networks="2001:db8::/32,"
                           "127.0.0.0/30")]
    inst = start(make_instance, certs, services,
                 {"dns_servers": dns.address, "dnsbl_sites": "bl.test"})
    assert rcpt(inst, "alice@example.test", source=LISTED)[0] == 554
    assert rcpt(inst, "alice@example.test", service="smtp6",
                source=LISTED)[0] == 554
    assert rcpt(inst, "alice@example.test", service="smtpnet",
                source=LISTED)[0] == 250
    inst.wait_for_log(r"reputation: client=127\.0\.0\.1 in "
                      r"dnsbl_allow_networks, not checked")


def test_weights_filters_and_threshold(make_instance, certs, dns):
    sites = "bl.test*1 zen.test=2 pbl.test=127.0.0.[2..4]*5"
    services = [mx_service("smtp", dnsbl_threshold="3"),
                mx_service("smtp4", dnsbl_threshold="4"),
                # pbl.test's code 11 does count without the filter.
                mx_service("smtpnf", dnsbl_threshold="8",
                           dnsbl_sites="bl.test,zen.test=2,pbl.test*5"),
                mx_service("smtpneg", dnsbl_threshold="2",
                           dnsbl_sites="zen.test=2,bl.test*-1")]
    inst = start(make_instance, certs, services,
                 {"dns_servers": dns.address, "dnsbl_sites": sites})
    code, text = rcpt(inst, "alice@example.test", source=LISTED)
    assert code == 554, text
    assert b"listed by bl.test" in text and b"listed by zen.test" in text
    assert b"pbl.test" not in text
    assert rcpt(inst, "alice@example.test", service="smtp4",
                source=LISTED)[0] == 250
    code, text = rcpt(inst, "alice@example.test", service="smtpnf",
                      source=LISTED)
    assert code == 554 and b"listed by pbl.test" in text, text
    # A negative weight (an allow list) offsets a listing.
    assert rcpt(inst, "alice@example.test", service="smtpneg",
                source=LISTED)[0] == 250


def test_bad_dnsbl_sites_is_fatal(make_instance, certs, dns):
    inst = start(make_instance, certs,
                 [mx_service("smtp", dnsbl_sites="bl.test=127.0.[1..x].2")],
                 {"dns_servers": dns.address})
    # A connection makes the master start smtpd, which refuses to run.
    sock = socket.create_connection(("127.0.0.1", inst.port("smtp")),
                                    timeout=5)
    try:
        inst.wait_for_log(r"dnsbl_sites: bl\.test=127\.0\.\[1\.\.x\]\.2: "
                          r"bad reply filter")
        sock.settimeout(0.5)
        try:
            greeting = sock.recv(100)
        except socket.timeout:
            greeting = b""
        assert not greeting.startswith(b"220"), greeting
    finally:
        sock.close()


def test_dns_timeout_never_rejects(make_instance, certs, dns):
    sock, silent = dnsutil.silent_udp_port()
    try:
        inst = start(make_instance, certs, [mx_service("smtp")],
                     {"dns_servers": silent, "dns_timeout": "1s",
                      "dns_tries": "1", "dnsbl_sites": "bl.test zen.test",
                      "smtpd_fcrdns_weight": "1"})
        began = time.monotonic()
        code, text = rcpt(inst, "alice@example.test", source=LISTED)
        took = time.monotonic() - began
        assert code == 250, text
        assert 0.8 < took < 5, took
        inst.wait_for_log(r"reputation: client=127\.0\.0\.1 dnsbl=bl\.test"
                          r": .*(imeout|cancel).*not counted")
        inst.wait_for_log(r"reverse DNS lookup failed temporarily")
    finally:
        sock.close()


def test_pregreet(make_instance, certs, dns):
    inst = start(make_instance, certs, [mx_service("smtp")],
                 {"dns_servers": dns.address, "smtpd_pregreet_time": "1s"})
    # A bot that does not wait for the 220.
    sock = socket.create_connection(("127.0.0.1", inst.port("smtp")),
                                    timeout=10,
                                    source_address=(CLEAN, 0))
    sock.sendall(b"EHLO bot.example.net\r\nMAIL FROM:<x@bot.example.net>"
                 b"\r\nRCPT TO:<alice@example.test>\r\nQUIT\r\n")
    f = sock.makefile("rb")
    replies = []
    while True:
        line = f.readline()
        if not line:
            break
        replies.append(line)
    sock.close()
    assert replies[0].startswith(b"220 "), replies
    rcpt_reply = [r for r in replies if r.startswith(b"554 ")]
    assert rcpt_reply and b"talked before the greeting" in rcpt_reply[0], \
        replies
    inst.wait_for_log(r"reputation: client=127\.0\.0\.9 talked before the "
                      r"greeting")
    # A client that waits is fine (and waited about a second).
    began = time.monotonic()
    assert rcpt(inst, "alice@example.test", source=CLEAN)[0] == 250
    assert time.monotonic() - began >= 0.9


def test_fcrdns(make_instance, certs, dns):
    inst = start(make_instance, certs, [mx_service("smtp")],
                 {"dns_servers": dns.address, "smtpd_fcrdns_weight": "1"})
    assert rcpt(inst, "alice@example.test", source=LISTED)[0] == 250
    for source in (LIAR, NO_PTR):
        code, text = rcpt(inst, "alice@example.test", source=source)
        assert code == 554, (source, text)
        assert b"no forward-confirmed reverse DNS" in text


def test_helo_syntax(make_instance, certs, dns):
    # Lenient HELO syntax: "-bad-.example" reaches the reputation check
    # instead of getting 501 at EHLO (smtpd_strict_helo_syntax).
    inst = start(make_instance, certs, [mx_service("smtp")],
                 {"dns_servers": dns.address, "smtpd_helo_weight": "1",
                  "smtpd_strict_helo_syntax": "no"})
    for helo, expect in (("mail.client.example", 250), ("[127.0.0.9]", 250),
                         ("localhost", 554), ("1.2.3.4", 554),
                         ("-bad-.example", 554)):
        code, text = rcpt(inst, "alice@example.test", helo=helo)
        assert code == expect, (helo, text)
        if code == 554:
            assert b"invalid HELO name" in text


def test_submission_not_checked(make_instance, certs, dns):
    """Block lists are for port 25: customers submit from listed dynamic
    addresses every day."""
    services = mailutil.smtpd_services(maxproc=2)
    inst = start(make_instance, certs, services,
                 {"dns_servers": dns.address, "dnsbl_sites": "bl.test"})
    s = smtplib.SMTP("127.0.0.1", inst.port("submission"), timeout=15,
                     source_address=(LISTED, 0))
    s.starttls(context=tlsutil.client_context(certs))
    s.login("alice@example.test", mailutil.PASSWORD)
    assert s.mail("alice@example.test")[0] == 250
    assert s.rcpt("someone@remote.example")[0] == 250
    s.quit()
