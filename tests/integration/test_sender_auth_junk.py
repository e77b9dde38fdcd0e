"""DMARC failures filed in Junk, per recipient (smtpd_authres.c, issue
18): p=quarantine always, p=reject when a recipient's policy says junk
(the mailbox's dmarc= routing attribute, else smtpd_dmarc_junk_domains
and smtpd_dmarc_reject_policy).  The whole path runs: smtpd (mx, checks
on) writes the per-recipient folder records, qmgr hands the folder to
the LMTP agent, lmtpd files the copy in Junk.  DNS from a real dnsmasq;
the client is named 192.0.2.9 with XCLIENT (libspf2 passes loopback)."""

import os
import smtplib
import time

import pytest

import dnsutil
import harness
import mailutil
import tlsutil

CLIENT = "192.0.2.9"
ZONE = [
    # Mail from 192.0.2.9 fails SPF for both; neither signs.
    "--txt-record=bank.test,v=spf1 ip4:192.0.2.50 -all",
    "--txt-record=_dmarc.bank.test,v=DMARC1; p=reject",
    "--txt-record=shop.test,v=spf1 ip4:192.0.2.50 -all",
    "--txt-record=_dmarc.shop.test,v=DMARC1; p=quarantine",
]


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


@pytest.fixture
def system(make_instance, certs, tmp_path):
    server = dnsutil.DnsServer(str(tmp_path / "dns"),
                               zone=list(dnsutil.TEST_ZONE) + ZONE)
    server.start()
    port = harness.free_port()
    inst = make_instance(services=mailutil.delivery_services(port))
    inst.params.update(mailutil.delivery_params(inst, certs, port))
    inst.params.update({"smtpd_sender_auth": "yes",
                        "smtpd_direct_delivery": "no",
                        "proxy_trusted_networks": "127.0.0.0/8",
                        "dns_servers": server.address,
                        "dns_timeout": "2s", "dns_tries": "1"})
    inst.write_main_conf()
    mailutil.provision(inst)
    # Junk exists (imapd makes it with \Junk; lmtpd does not create it).
    for address in ("alice@example.test", "bob@example.test"):
        for folder in (None, "Junk"):
            for sub in ("tmp", "new", "cur"):
                os.makedirs(os.path.join(mailutil.mailbox_dir(
                    inst, address, folder), sub), exist_ok=True)
    yield inst
    server.stop()
    log = inst.log()
    for marker in ("runtime error:", "AddressSanitizer", "LeakSanitizer"):
        assert marker not in log, log[-3000:]


def ctl_ok(inst, *args):
    r = inst.ctl(*args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def send(inst, sender, rcpts, subject):
    message = ("From: <%s>\r\nTo: alice@example.test\r\nSubject: %s\r\n"
               "Date: Wed, 02 Dec 2026 10:00:00 +0000\r\n"
               "Message-ID: <%d@test>\r\n\r\nPay now.\r\n"
               % (sender, subject, time.monotonic_ns())).encode()
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=60)
    try:
        s.ehlo("client.example.net")
        code, text = s.docmd("XCLIENT", "ADDR=" + CLIENT)
        assert code == 220, text
        s.ehlo("client.example.net")
        assert s.mail(sender)[0] == 250
        for r in rcpts:
            assert s.rcpt(r)[0] == 250, r
        code, text = s.data(message)
        return code, text.decode()
    finally:
        s.close()


def test_quarantine_policy_files_in_junk(system):
    system.start()
    code, text = send(system, "news@shop.test",
                      ["alice@example.test", "bob@example.test"], "sale")
    assert code == 250, text
    for rcpt in ("alice@example.test", "bob@example.test"):
        [junk] = mailutil.wait_messages(system, rcpt, 1, folder="Junk")
        assert b"dmarc=fail (p=quarantine) header.from=shop.test" in junk
        assert mailutil.maildir_messages(system, rcpt) == []
        system.wait_for_log(r"to=<%s>, dmarc quarantine policy of "
                            r"shop\.test: folder=Junk" % rcpt)


def test_reject_per_mailbox_policy(system):
    """alice says junk, bob honours: 250 and Junk for both (a 250 for
    alice cannot be a silent discard for bob); both honour: 550."""
    ctl_ok(system, "mailbox", "set", "alice@example.test", "dmarc=junk")
    ctl_ok(system, "mailbox", "set", "bob@example.test", "dmarc=honour")
    bad = system.ctl("mailbox", "set", "bob@example.test", "dmarc=maybe")
    assert bad.returncode != 0 and "dmarc must be" in bad.stderr
    system.start()
    code, text = send(system, "service@bank.test",
                      ["alice@example.test", "bob@example.test"], "urgent")
    assert code == 250, text
    for rcpt in ("alice@example.test", "bob@example.test"):
        [junk] = mailutil.wait_messages(system, rcpt, 1, folder="Junk")
        assert b"dmarc=fail (p=reject) header.from=bank.test" in junk
        assert mailutil.maildir_messages(system, rcpt) == []
    # bob alone honours it.
    code, text = send(system, "service@bank.test", ["bob@example.test"],
                      "urgent again")
    assert code == 550 and text.startswith("5.7.1 "), (code, text)
    # The mailbox attribute wins over the domain list: alice says junk.
    ctl_ok(system, "mailbox", "set", "alice@example.test", "dmarc=honour")
    system.params["smtpd_dmarc_junk_domains"] = "example.test"
    system.write_main_conf()
    system.reload()
    code, text = send(system, "service@bank.test", ["alice@example.test"],
                      "third")
    assert code == 550, (code, text)
    # default: the domain list decides again.
    ctl_ok(system, "mailbox", "set", "alice@example.test", "dmarc=default")
    code, text = send(system, "service@bank.test", ["alice@example.test"],
                      "fourth")
    assert code == 250, (code, text)
    mailutil.wait_messages(system, "alice@example.test", 2, folder="Junk")
    assert mailutil.maildir_messages(system, "alice@example.test") == []


def test_domain_policy_between_mailbox_and_parameters(system):
    """The domain record's dmarc= (ispmail-routes(5)) decides for its
    mailboxes whose own value is default; a mailbox's value wins over
    it, and it wins over smtpd_dmarc_reject_policy."""
    ctl_ok(system, "domain", "set", "example.test", "dmarc=junk")
    assert "dmarc: junk" in ctl_ok(system, "domain", "show",
                                   "example.test").stdout
    bad = system.ctl("domain", "set", "example.test", "dmarc=maybe")
    assert bad.returncode != 0 and "dmarc must be" in bad.stderr
    system.start()
    code, text = send(system, "service@bank.test", ["alice@example.test"],
                      "domain junk")
    assert code == 250, text
    [junk] = mailutil.wait_messages(system, "alice@example.test", 1,
                                    folder="Junk")
    assert b"dmarc=fail (p=reject) header.from=bank.test" in junk
    # bob's own honour wins over the domain's junk.
    ctl_ok(system, "mailbox", "set", "bob@example.test", "dmarc=honour")
    code, text = send(system, "service@bank.test", ["bob@example.test"],
                      "bob honours")
    assert code == 550 and text.startswith("5.7.1 "), (code, text)
    # The domain's honour wins over the parameter's junk.
    ctl_ok(system, "domain", "set", "example.test", "dmarc=honour")
    system.params["smtpd_dmarc_reject_policy"] = "junk"
    system.write_main_conf()
    system.reload()
    code, text = send(system, "service@bank.test", ["alice@example.test"],
                      "domain honours")
    assert code == 550, (code, text)
    # default: the parameter decides again; quarantine is Junk anyway.
    ctl_ok(system, "domain", "set", "example.test", "dmarc=default")
    code, text = send(system, "service@bank.test", ["alice@example.test"],
                      "parameter junk")
    assert code == 250, (code, text)
    code, text = send(system, "news@shop.test", ["alice@example.test"],
                      "sale")
    assert code == 250, (code, text)
    mailutil.wait_messages(system, "alice@example.test", 3, folder="Junk")
    assert mailutil.maildir_messages(system, "alice@example.test") == []
