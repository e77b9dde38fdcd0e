"""ARC sealing of forwarded mail (smtpd_arc.c, common/mail/arc.c, RFC
8617), end to end: a real mx smtpd with sender auth, a real dnsmasq
serving the keys (ispmailctl dkim keygen's and a foreign signer's), qmgr
and the SMTP agent delivering forwards to a test MTA on 127.0.0.2.
What arrives there is checked with dkimpy (Debian's python3-dkim, code
we did not write): its arc_verify says cv=pass for one forward (i=1)
and for a second forward of the delivered message through another of
our domains (i=2, our own chain checked before sealing), and the
original DKIM signature still verifies.  Mail to a local mailbox and
mail forwarded by a domain without a key get no ARC set; a chain
broken on the way gets cv=fail."""

import os
import re
import smtplib
import time

import dkim
import pytest

import dnsutil
import harness
import mailutil
import smtpremoteutil
import tlsutil
from test_sender_auth import dkim_txt_of, dns_lookup, openssl_key, \
    txt_record_option

SIGNER_KEY = "orig"


def keygen_records(inst, domain):
    out = inst.ctl("dkim", "keygen", domain)
    assert out.returncode == 0, out.stderr
    recs = []
    for name, strings in re.findall(r'^(\S+)\. IN TXT \( (.*) \)$',
                                    out.stdout, re.M):
        text = "".join(re.findall(r'"([^"]*)"', strings))
        recs.append(txt_record_option(name, text))
    assert len(recs) == 2, out.stdout
    return recs


@pytest.fixture(scope="module")
def arc(tmp_path_factory):
    """The instance (example.test and hop.test with keys, nokey.test
    without), its dnsmasq and the far MTA every remote message goes to."""
    tmp = str(tmp_path_factory.mktemp("arc"))
    certs = tlsutil.make_certs()
    port = smtpremoteutil.free_port_on(["127.0.0.2"])
    remote = smtpremoteutil.RemoteMTA("127.0.0.2", port,
                                      name="far.remote.test").start()
    lmtp_port = harness.free_port()
    inst = harness.Instance(
        services=smtpremoteutil.outbound_services(lmtp_port, maxproc=2),
        name="ispmail-arc")
    inst.params.update(mailutil.delivery_params(inst, certs, lmtp_port))
    inst.params.update({"smtpd_direct_delivery": "no",
                        "smtpd_sender_auth": "yes",
                        "smtpd_sender_auth_timeout": "10s",
                        "dns_timeout": "2s", "dns_tries": "1",
                        "relayhost": "[127.0.0.2]:%d" % port,
                        "smtp_connection_cache_time": "0"})
    inst.write_main_conf()
    ctl = mailutil.provision(inst)
    ctl("forward", "add", "bob@example.test", "bob@far.remote.test")
    ctl("domain", "add", "hop.test")
    ctl("alias", "add", "list@hop.test", "list@far.remote.test")
    ctl("domain", "add", "nokey.test")
    ctl("alias", "add", "fw@nokey.test", "fw@far.remote.test")
    zone = list(dnsutil.TEST_ZONE)
    zone += keygen_records(inst, "example.test")
    zone += keygen_records(inst, "hop.test")
    # The original author's domain signs with a key of its own.
    key_path = os.path.join(tmp, "signer.pem")
    inst.signer_key = openssl_key(key_path, "rsa")
    zone.append(txt_record_option("%s._domainkey.signer.test" % SIGNER_KEY,
                                  dkim_txt_of(key_path, "rsa")))
    server = dnsutil.DnsServer(tmp, zone=zone)
    server.start()
    inst.params["dns_servers"] = server.address
    inst.write_main_conf()
    inst.certs = certs
    inst.start()
    inst.dns = server
    inst.remote = remote
    yield inst
    # Stopped first: leaks are reported at exit.
    inst.stop()
    server.stop()
    remote.stop()
    smtpremoteutil.assert_no_sanitizer_reports(inst)
    inst.close()


def signed_message(inst, subject):
    """A message from signer.test, DKIM-signed there (dkimpy)."""
    msg = (b"From: Someone <someone@signer.test>\r\n"
           b"To: bob@example.test\r\n"
           b"Subject: " + subject.encode() + b"\r\n"
           b"Date: Thu, 03 Dec 2026 08:00:00 +0000\r\n"
           b"Message-ID: <" + subject.replace(" ", ".").encode() +
           b"@signer.test>\r\n"
           b"\r\n"
           b"Forward me, please.\r\n"
           b"A second line.\r\n")
    sig = dkim.sign(msg, SIGNER_KEY.encode(), b"signer.test",
                    inst.signer_key,
                    include_headers=[b"from", b"to", b"subject", b"date",
                                     b"message-id"])
    return sig + msg


def send(inst, rcpt, message, sender="someone@signer.test"):
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=30)
    try:
        s.sendmail(sender, [rcpt], message)
    finally:
        s.quit()


def arrived(inst, subject, rcpt):
    """The one message with subject for rcpt the far MTA got (waiting
    for it)."""
    needle = b"Subject: " + subject.encode() + b"\r\n"
    deadline = time.monotonic() + 20
    while True:
        with inst.remote.lock:
            found = [m for m in inst.remote.messages if needle in m.data
                     and m.rcpt_addresses() == [rcpt]]
        if found:
            assert len(found) == 1
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError("%r to %s never arrived; log:\n%s" % (
                subject, rcpt, inst.log()[-5000:]))
        time.sleep(0.05)


def arc_fields(data, name):
    header = data.split(b"\r\n\r\n", 1)[0]
    return re.findall(rb"^" + name.encode() + rb":([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)",
                      header, re.M | re.I)


def test_forward_gets_one_arc_set_that_passes(arc):
    send(arc, "bob@example.test", signed_message(arc, "forward one"))
    m = arrived(arc, "forward one", "bob@far.remote.test")
    lookup = dns_lookup(arc.dns)
    seals = arc_fields(m.data, "ARC-Seal")
    assert len(seals) == 1, m.data
    assert re.search(rb"\bi=1;", seals[0]) and b"cv=none" in seals[0]
    assert b"d=example.test" in seals[0]
    assert len(arc_fields(m.data, "ARC-Message-Signature")) == 1
    aar = arc_fields(m.data, "ARC-Authentication-Results")
    assert len(aar) == 1
    assert aar[0].startswith(b" i=1; mx.example.test;"), aar
    assert b"dkim=pass header.d=signer.test" in aar[0], aar
    # No chain before ours (RFC 8617 10.1), in our A-R as in the AAR.
    assert aar[0].rstrip().endswith(b"arc=none"), aar
    ours = arc_fields(m.data, "Authentication-Results")
    assert len(ours) == 1 and ours[0].rstrip().endswith(b"arc=none")
    cv, results, reason = dkim.arc_verify(m.data, dnsfunc=lookup)
    assert cv == dkim.CV_Pass, (reason, results, m.data)
    # Body and signed fields untouched: the author's signature holds.
    assert dkim.verify(m.data, dnsfunc=lookup), m.data
    assert re.search(r"arc sealed i=1 cv=none d=example.test", arc.log())


def test_second_forward_gives_i2_and_passes(arc):
    send(arc, "bob@example.test", signed_message(arc, "forward two"))
    first = arrived(arc, "forward two", "bob@far.remote.test")
    # The far side sends it on to a list of ours in another domain.
    send(arc, "list@hop.test", first.data,
         sender="bob@far.remote.test")
    data = arrived(arc, "forward two", "list@far.remote.test").data
    lookup = dns_lookup(arc.dns)
    seals = arc_fields(data, "ARC-Seal")
    assert len(seals) == 2, data
    newest = [s for s in seals if re.search(rb"\bi=2;", s)]
    assert len(newest) == 1 and b"cv=pass" in newest[0]
    assert b"d=hop.test" in newest[0]
    aar = [a for a in arc_fields(data, "ARC-Authentication-Results")
           if a.startswith(b" i=2;")]
    assert len(aar) == 1 and aar[0].rstrip().endswith(b"arc=pass"), aar
    cv, results, reason = dkim.arc_verify(data, dnsfunc=lookup)
    assert cv == dkim.CV_Pass, (reason, results, data)
    assert [r["instance"] for r in results] == [2, 1]
    assert dkim.verify(data, dnsfunc=lookup), data
    assert re.search(r"arc sealed i=2 cv=pass d=hop.test", arc.log())


def test_broken_chain_is_sealed_cv_fail(arc):
    """A body changed after the first seal: the second hop says fail."""
    send(arc, "bob@example.test", signed_message(arc, "forward broken"))
    first = arrived(arc, "forward broken", "bob@far.remote.test")
    tampered = first.data.replace(b"A second line.", b"A changed line.")
    send(arc, "list@hop.test", tampered, sender="bob@far.remote.test")
    data = arrived(arc, "forward broken", "list@far.remote.test").data
    seals = arc_fields(data, "ARC-Seal")
    newest = [s for s in seals if re.search(rb"\bi=2;", s)]
    assert len(newest) == 1 and b"cv=fail" in newest[0], data
    aar = [a for a in arc_fields(data, "ARC-Authentication-Results")
           if a.startswith(b" i=2;")]
    assert len(aar) == 1 and aar[0].rstrip().endswith(b"arc=fail"), aar
    # dkimpy agrees: the chain ended at our failed seal.
    cv, _results, reason = dkim.arc_verify(data,
                                           dnsfunc=dns_lookup(arc.dns))
    assert cv is None and "ARC-Seal[2] reported failure" in reason, reason
    assert "body hash mismatch" in arc.log()


def test_local_mailbox_gets_no_arc_set(arc):
    send(arc, "alice@example.test", signed_message(arc, "stays home"))
    msgs = mailutil.wait_messages(arc, "alice@example.test", 1)
    mine = [m for m in msgs if b"Subject: stays home" in m]
    assert len(mine) == 1
    assert b"Authentication-Results: mx.example.test" in mine[0]
    # Not sealed, so not checked: no arc= verdict either.
    assert not re.search(rb"\sarc=", mine[0])
    assert not arc_fields(mine[0], "ARC-Seal")
    assert not arc_fields(mine[0], "ARC-Message-Signature")
    assert not arc_fields(mine[0], "ARC-Authentication-Results")


def test_domain_without_key_seals_nothing(arc):
    send(arc, "fw@nokey.test", signed_message(arc, "no key here"))
    m = arrived(arc, "no key here", "fw@far.remote.test")
    assert not arc_fields(m.data, "ARC-Seal")
    assert not arc_fields(m.data, "ARC-Message-Signature")
    assert dkim.verify(m.data, dnsfunc=dns_lookup(arc.dns))


def test_chain_sealed_by_dkimpy_is_checked_and_continued(arc):
    """i=1 made by code we did not write (dkimpy's arc_sign at the
    author's own forwarder): we find it valid and add i=2 cv=pass."""
    msg = signed_message(arc, "sealed elsewhere")
    msg = (b"Authentication-Results: mx.signer.test; dkim=pass "
           b"header.d=signer.test\r\n") + msg
    arc_set = dkim.arc_sign(msg, SIGNER_KEY.encode(), b"signer.test",
                            arc.signer_key, b"mx.signer.test")
    assert len(arc_set) == 3
    send(arc, "bob@example.test", b"".join(arc_set) + msg)
    data = arrived(arc, "sealed elsewhere", "bob@far.remote.test").data
    seals = arc_fields(data, "ARC-Seal")
    newest = [s for s in seals if re.search(rb"\bi=2;", s)]
    assert len(seals) == 2 and len(newest) == 1, data
    assert b"cv=pass" in newest[0] and b"d=example.test" in newest[0]
    cv, results, reason = dkim.arc_verify(data, dnsfunc=dns_lookup(arc.dns))
    assert cv == dkim.CV_Pass, (reason, results, data)


STRAY_SEAL = b"ARC-Seal: a=rsa-sha256; cv=none; d=stray.test; s=s; b=AAAA\r\n"


def test_arc_fields_without_instance_make_no_chain(arc):
    """An ARC-Seal without i= is in no ARC set (RFC 8617 4.1): the
    message has no chain, so ours starts it, i=1 cv=none (5.1 step 2),
    and it verifies, the stray field aside."""
    send(arc, "bob@example.test",
         STRAY_SEAL + signed_message(arc, "stray seal"))
    data = arrived(arc, "stray seal", "bob@far.remote.test").data
    ours = [s for s in arc_fields(data, "ARC-Seal")
            if b"d=example.test" in s]
    assert len(ours) == 1 and re.search(rb"\bi=1;", ours[0]), data
    assert b"cv=none" in ours[0], data
    aar = arc_fields(data, "ARC-Authentication-Results")
    assert len(aar) == 1 and aar[0].rstrip().endswith(b"arc=none"), aar
    cv, results, reason = dkim.arc_verify(data, dnsfunc=dns_lookup(arc.dns))
    assert cv == dkim.CV_Pass, (reason, results, data)
    assert [r["instance"] for r in results] == [1]
    assert re.search(r"arc sealed i=1 cv=none d=example.test .*"
                     r"without i= ignored", arc.log())


def test_arc_seal_with_i0_is_a_broken_chain(arc):
    """i=0 claims a set no chain can have (RFC 8617 4.2.1, 5.2 step 3):
    the chain arrived broken, so ours says so, i=1 cv=fail over our own
    set only (5.1.2), and validators stop there."""
    send(arc, "bob@example.test",
         STRAY_SEAL.replace(b"ARC-Seal: ", b"ARC-Seal: i=0; ") +
         signed_message(arc, "seal i0"))
    data = arrived(arc, "seal i0", "bob@far.remote.test").data
    ours = [s for s in arc_fields(data, "ARC-Seal")
            if b"d=example.test" in s]
    assert len(ours) == 1 and re.search(rb"\bi=1;", ours[0]), data
    assert b"cv=fail" in ours[0], data
    cv, _results, reason = dkim.arc_verify(data,
                                           dnsfunc=dns_lookup(arc.dns))
    assert cv is None and "ARC-Seal[1] reported failure" in reason, reason
