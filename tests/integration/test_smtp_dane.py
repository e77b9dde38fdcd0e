"""DANE (RFC 7672) in the smtp agent, end to end: a DNSSEC-signed zone
(ldns-signzone) behind a validating unbound that the test starts, TLSA
records that match the remote MTA's certificate (DANE-EE by its public
key, DANE-TA by its CA) or do not, and one made bogus after signing;
the outcome in the delivery log's tls= field.  A mismatch defers (4.7.5) and nothing is sent, in the clear
or otherwise; the AD bit of a resolver not listed in
smtp_dnssec_resolvers is not trusted."""

import hashlib
import ssl

import pytest

import dnssecutil
import mailutil
import smtpremoteutil
import tlsutil
from smtpremoteutil import RemoteMTA

ORIGIN = "dane.test"


def _der_of_pem(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


@pytest.fixture(scope="module")
def remote_certs(tmp_path_factory):
    """The remote MTAs' certificate (named mx.ta.dane.test) and, for
    DANE-TA, a chain file that carries the CA as RFC 7672 3.2.1 asks."""
    certs = tlsutil.make_certs(hostname="mx.ta.dane.test")
    chain = str(tmp_path_factory.mktemp("chain") / "chain.pem")
    with open(chain, "w") as out:
        for path in (certs["cert"], certs["ca"]):
            with open(path) as f:
                out.write(f.read())
    return dict(certs, chain=chain)


@pytest.fixture(scope="module")
def port():
    return smtpremoteutil.free_port_on(["127.0.0.2", "127.0.0.3"])


@pytest.fixture(scope="module")
def zone(tmp_path_factory, remote_certs, port):
    spki = tlsutil.spki_sha256(remote_certs["cert"])
    ca = hashlib.sha256(_der_of_pem(remote_certs["ca"])).hexdigest()
    records = [
        # DANE-EE(3) SPKI(1) SHA2-256(1) of the MTA's key.
        "good IN MX 10 mx.good",
        "mx.good IN A 127.0.0.2",
        "_%d._tcp.mx.good IN TLSA 3 1 1 %s" % (port, spki),
        # DANE-TA(2) Cert(0) SHA2-256(1) of the CA; the name must match.
        "ta IN MX 10 mx.ta",
        "mx.ta IN A 127.0.0.3",
        "_%d._tcp.mx.ta IN TLSA 2 0 1 %s" % (port, ca),
        # A TLSA record that matches nothing the MTA has.
        "bad IN MX 10 mx.bad",
        "mx.bad IN A 127.0.0.2",
        "_%d._tcp.mx.bad IN TLSA 3 1 1 %s" % (port, "ab" * 32),
        # DANE-TA with the right CA, but the certificate names another
        # host (RFC 7672 3.2.3): no match.
        "wrongname IN MX 10 mx.wrongname",
        "mx.wrongname IN A 127.0.0.3",
        "_%d._tcp.mx.wrongname IN TLSA 2 0 1 %s" % (port, ca),
        # Signed with one digest, then changed to the MTA's key: it
        # would match, but it is bogus (SERVFAIL from the validator).
        "bogus IN MX 10 mx.bogus",
        "mx.bogus IN A 127.0.0.2",
        "_%d._tcp.mx.bogus IN TLSA 3 1 1 %s" % (port, "ef" * 32),
        # Signed, without TLSA: opportunistic TLS as configured.
        "notlsa IN MX 10 mx.notlsa",
        "mx.notlsa IN A 127.0.0.2",
        # RFC 7672 2.2.2: the MX host is a secure CNAME; TLSA at the
        # expanded name (mx.good) only ...
        "cname IN MX 10 mx.cname",
        "mx.cname IN CNAME mx.good",
        # ... or at the original name only (mx.notlsa has none).
        "cname2 IN MX 10 mx.cname2",
        "mx.cname2 IN CNAME mx.notlsa",
        "_%d._tcp.mx.cname2 IN TLSA 3 1 1 %s" % (port, spki),
        # The expanded name's record beats the original's (a mismatch).
        "cname3 IN MX 10 mx.cname3",
        "mx.cname3 IN CNAME mx.good",
        "_%d._tcp.mx.cname3 IN TLSA 3 1 1 %s" % (port, "cd" * 32),
    ]
    server = dnssecutil.SignedZone(str(tmp_path_factory.mktemp("dnssec")),
                                   ORIGIN, records,
                                   tamper=[("ef" * 32, spki)]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mtas(remote_certs, port):
    ee = RemoteMTA("127.0.0.2", port, name="mx.good.dane.test",
                   certs=remote_certs).start()
    ta = RemoteMTA("127.0.0.3", port, name="mx.ta.dane.test",
                   certs={"cert": remote_certs["chain"],
                          "key": remote_certs["key"]}).start()
    yield ee, ta
    ee.stop()
    ta.stop()


def make_system(make_instance, zone, port, params):
    # The zone has no _mta-sts records; keep the agent from asking.
    return smtpremoteutil.start_outbound(
        make_instance, zone.address, port, dict({"smtp_mta_sts": "no"},
                                                **params))


def sent_in_clear(mta):
    """Sessions that gave a MAIL command without TLS."""
    return [s for s in mta.sessions if s.tls is None and
            any(c.upper().startswith("MAIL") for c in s.commands)]


def test_dane_ee_ta_mismatch_and_precedence(make_instance, zone, port, mtas):
    ee, ta = mtas
    inst = make_system(make_instance, zone, port, {
        "smtp_dnssec_resolvers": zone.address,
        # DANE comes before the configured policy: "none" here is
        # overridden for a domain with TLSA records.
        "smtp_tls_policy": "good.dane.test=none",
    })
    before_ee, before_ta = len(ee.messages), len(ta.messages)

    qid = smtpremoteutil.submit(inst, ["u@good.dane.test"],
                                "Subject: ee\r\n\r\nee\r\n")
    inst.wait_for_log(r"%s: to=<u@good.dane.test>, relay=mx.good.dane.test"
                      r"\[127.0.0.2\]:%d, .*tls=dane-ee/verified, "
                      r"status=sent" % (qid, port), timeout=20)
    msgs = ee.wait_messages(before_ee + 1, inst=inst)
    assert msgs[-1].session.tls in ("TLSv1.2", "TLSv1.3")
    assert msgs[-1].session.sni == "mx.good.dane.test"

    qid = smtpremoteutil.submit(inst, ["u@ta.dane.test"],
                                "Subject: ta\r\n\r\nta\r\n")
    inst.wait_for_log(r"%s: to=<u@ta.dane.test>, .*tls=dane-ta/verified, "
                      r"status=sent" % qid, timeout=20)
    ta.wait_messages(before_ta + 1, inst=inst)

    # Signed but no TLSA: the configured level (may).
    qid = smtpremoteutil.submit(inst, ["u@notlsa.dane.test"],
                                "Subject: n\r\n\r\nn\r\n")
    inst.wait_for_log(r"%s: to=<u@notlsa.dane.test>, .*tls=may/encrypted, "
                      r"status=sent" % qid, timeout=20)

    # TLSA mismatch: deferred with 4.7.5, never sent in the clear.
    count_ee, count_ta = len(ee.messages), len(ta.messages)
    qid = smtpremoteutil.submit(inst, ["u@bad.dane.test"],
                                "Subject: bad\r\n\r\nbad\r\n")
    inst.wait_for_log(r"TLS with mx.bad.dane.test\[127.0.0.2\]:%d failed "
                      r"\(level verify, DANE\)" % port, timeout=20)
    inst.wait_for_log(r"%s: to=<u@bad.dane.test>, .*status=deferred "
                      r"\(451 4.7.5 TLS with host mx.bad.dane.test"
                      % qid, timeout=20)
    # DANE-TA with the right CA for a certificate of another name.
    qid2 = smtpremoteutil.submit(inst, ["u@wrongname.dane.test"],
                                 "Subject: w\r\n\r\nw\r\n")
    inst.wait_for_log(r"%s: to=<u@wrongname.dane.test>, .*status=deferred "
                      r"\(451 4.7.5" % qid2, timeout=20)
    # A bogus TLSA answer: the host is not used at all (RFC 7672 2.2).
    qid3 = smtpremoteutil.submit(inst, ["u@bogus.dane.test"],
                                 "Subject: g\r\n\r\ng\r\n")
    inst.wait_for_log(r"%s: to=<u@bogus.dane.test>, .*status=deferred "
                      r"\(451 4.7.5 TLSA lookup for mx.bogus.dane.test "
                      r"failed" % qid3, timeout=20)
    # Retries (queue_run_delay 1s) stay deferred and never go plain.
    inst.wait_for_log(r"%s: to=<u@bad.dane.test>, .*status=deferred"
                      r"[^\n]*\n(.*\n)*.*%s: to=<u@bad.dane.test>, "
                      r".*status=deferred" % (qid, qid), timeout=20)
    assert len(ee.messages) == count_ee
    assert len(ta.messages) == count_ta
    assert sent_in_clear(ee) == [] and sent_in_clear(ta) == []
    assert not mailutil.queue_empty(inst)
    smtpremoteutil.assert_no_sanitizer_reports(inst)


def test_tlsa_base_domain_follows_a_secure_cname(make_instance, zone, port,
                                                 mtas):
    """RFC 7672 2.2.2: an MX host name that is a validated CNAME: the
    TLSA records of the expanded name are used first, then those of the
    original name."""
    ee, _ta = mtas
    inst = make_system(make_instance, zone, port, {
        "smtp_dnssec_resolvers": zone.address,
    })
    count = len(ee.messages)
    for domain in ("cname", "cname2", "cname3"):
        qid = smtpremoteutil.submit(inst, ["u@%s.dane.test" % domain],
                                    "Subject: c\r\n\r\nc\r\n")
        inst.wait_for_log(r"%s: to=<u@%s.dane.test>, .*"
                          r"tls=dane-ee/verified, status=sent"
                          % (qid, domain), timeout=20)
        count += 1
        ee.wait_messages(count, inst=inst)
    # The expanded name's TLSA was the one used for cname3 (its own
    # record would not have matched); the SNI was the base domain.
    assert ee.messages[-1].session.sni == "mx.good.dane.test"
    assert ee.messages[-2].session.sni == "mx.cname2.dane.test"
    smtpremoteutil.assert_no_sanitizer_reports(inst)


def test_dane_only_defers_hosts_without_usable_tlsa(make_instance, zone,
                                                    port, mtas):
    """smtp_tls_policy level dane-only (mandatory DANE): a host with
    matching validated TLSA gets mail; a signed domain without TLSA is
    deferred 4.7.5, never sent with lesser TLS or in the clear."""
    ee, _ta = mtas
    inst = make_system(make_instance, zone, port, {
        "smtp_dnssec_resolvers": zone.address,
        "smtp_tls_policy": "good.dane.test=dane-only "
                           "notlsa.dane.test=dane-only",
    })
    count = len(ee.messages)
    qid = smtpremoteutil.submit(inst, ["u@good.dane.test"],
                                "Subject: d\r\n\r\nd\r\n")
    inst.wait_for_log(r"%s: to=<u@good.dane.test>, .*tls=dane-ee/verified, "
                      r"status=sent" % qid, timeout=20)
    ee.wait_messages(count + 1, inst=inst)
    count = len(ee.messages)
    qid = smtpremoteutil.submit(inst, ["u@notlsa.dane.test"],
                                "Subject: n\r\n\r\nn\r\n")
    inst.wait_for_log(r"%s: to=<u@notlsa.dane.test>, .*status=deferred "
                      r"\(451 4.7.5 no usable DNSSEC-validated TLSA records "
                      r"for mx.notlsa.dane.test \(TLS level dane-only\)"
                      % qid, timeout=20)
    assert len(ee.messages) == count
    assert not mailutil.queue_empty(inst)
    smtpremoteutil.assert_no_sanitizer_reports(inst)


def test_ad_bit_of_an_unlisted_resolver_is_not_trusted(make_instance, zone,
                                                       port, mtas):
    """The same validating resolver as dns_servers only: its AD bit is
    not trusted, so there is no DANE and the mismatching TLSA record does
    not matter (opportunistic TLS as configured)."""
    ee, _ta = mtas
    inst = make_system(make_instance, zone, port, {})
    count = len(ee.messages)
    qid = smtpremoteutil.submit(inst, ["u@bad.dane.test"],
                                "Subject: x\r\n\r\nx\r\n")
    inst.wait_for_log(r"%s: to=<u@bad.dane.test>, .*tls=may/encrypted, "
                      r"status=sent" % qid, timeout=20)
    ee.wait_messages(count + 1, inst=inst)
    smtpremoteutil.assert_no_sanitizer_reports(inst)
