"""Sender authentication in smtpd (smtpd_authres.c, ispmailctl dkim):
DKIM signing on submission, SPF/DKIM/DMARC on the MX, one
Authentication-Results field with our authserv-id, forged ones removed,
DMARC p=reject honoured.  DNS comes from a real dnsmasq; keys are made
by ispmailctl dkim keygen, by OpenSSL and by the tests; our signatures
are verified by dkimpy (Debian's python3-dkim), and messages that dkimpy
signed are verified by us (opendkim-testmsg's rsa-sha1 is refused)."""

import os
import re
import shutil
import smtplib
import subprocess

import dkim
import dns.message
import dns.query
import dns.rdatatype
import pytest

import dnsutil
import harness
import mailutil
import tlsutil

AUTHSERV = "mx.example.test"       # base_params' myhostname
# libspf2 passes every loopback client ("localhost is always allowed"):
# the tests name their client with XCLIENT, as a trusted proxy would.
CLIENT = "192.0.2.9"
OPENDKIM_TESTMSG = shutil.which("opendkim-testmsg") or \
    "/usr/sbin/opendkim-testmsg"


def txt_record_option(name, text):
    """dnsmasq --txt-record: strings of at most 255 octets, comma split."""
    parts = [text[i:i + 250] for i in range(0, len(text), 250)]
    return "--txt-record=%s,%s" % (name, ",".join(parts))


def checking_mx(name, dns_address, params=None):
    """An mx smtpd, one process, sender authentication on, asking
    dns_address; configured and provisioned, not started."""
    inst = harness.Instance(services=mailutil.smtpd_services(maxproc=1)[:1],
                            name=name)
    inst.params.update(mailutil.base_params(inst, tlsutil.make_certs()))
    inst.params.update({"smtpd_direct_delivery": "no",
                        "smtpd_sender_auth": "yes",
                        "proxy_trusted_networks": "127.0.0.0/8",
                        "dns_servers": dns_address})
    inst.params.update(params or {})
    inst.write_main_conf()
    mailutil.provision(inst)
    return inst


def openssl_key(path, kind):
    args = ["openssl", "genpkey", "-out", path]
    args += ["-algorithm", "ED25519"] if kind == "ed25519" else \
        ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
    subprocess.run(args, check=True, capture_output=True)
    with open(path, "rb") as f:
        return f.read()


def dkim_txt_of(path, kind):
    """The v=DKIM1 record of a PEM private key, by openssl."""
    der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    import base64
    if kind == "ed25519":
        # RFC 8463: the raw key, the last 32 octets of the SPKI.
        return "v=DKIM1; k=ed25519; p=" + \
            base64.b64encode(der[-32:]).decode()
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def dkimpy_key(raw_pem, kind):
    """dkimpy takes RSA keys as PEM and Ed25519 ones as the raw seed."""
    if kind != "ed25519":
        return raw_pem
    der = subprocess.run(["openssl", "pkey", "-outform", "DER"],
                         input=raw_pem, check=True,
                         capture_output=True).stdout
    import base64
    return base64.b64encode(der[-32:])


class Setup:
    pass


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


@pytest.fixture(scope="module")
def world(tmp_path_factory, certs):
    """Keys: ours (ispmailctl) for example.test, foreign ones for
    signer.test (dkimpy RSA and Ed25519, opendkim-testmsg RSA)."""
    w = Setup()
    w.dir = str(tmp_path_factory.mktemp("sauth"))
    w.keys = {}
    for sel, kind in (("py-rsa", "rsa"), ("py-ed", "ed25519"),
                      ("od-rsa", "rsa")):
        path = os.path.join(w.dir, sel + ".pem")
        w.keys[sel] = (path, openssl_key(path, kind), kind)
    return w


def zone(world, our_records):
    z = list(dnsutil.TEST_ZONE)
    for sel, (path, _pem, kind) in world.keys.items():
        z.append(txt_record_option("%s._domainkey.signer.test" % sel,
                                   dkim_txt_of(path, kind)))
        z.append(txt_record_option("%s._domainkey.mail.strict.test" % sel,
                                   dkim_txt_of(path, kind)))
    z += our_records
    z += [
        # SPF outcomes for the client 192.0.2.9.
        "--txt-record=pass.test,v=spf1 ip4:192.0.2.9 -all",
        "--txt-record=fail.test,v=spf1 ip4:192.0.2.1 -all",
        "--txt-record=soft.test,v=spf1 ~all",
        # Three void lookups (RFC 7208 4.6.4: at most two).
        "--txt-record=void.test,v=spf1 a:n1.void.test a:n2.void.test "
        "a:n3.void.test ip4:192.0.2.9 -all",
        # Eleven DNS mechanisms (the limit is ten).
        "--host-record=h.test,192.0.2.77",
        "--txt-record=many.test,v=spf1 " + "a:h.test " * 11 +
        "ip4:192.0.2.9 -all",
        # A bank whose mail comes from 192.0.2.50 only; DMARC reject.
        "--txt-record=bank.test,v=spf1 ip4:192.0.2.50 -all",
        "--txt-record=_dmarc.bank.test,v=DMARC1; p=reject; adkim=s; "
        "aspf=s",
        # signer.test: SPF fails for us, DKIM aligns relaxed.
        "--txt-record=signer.test,v=spf1 -all",
        "--txt-record=_dmarc.signer.test,v=DMARC1; p=reject",
        # strict.test: signed by mail.strict.test; strict alignment.
        "--txt-record=strict.test,v=spf1 -all",
        "--txt-record=_dmarc.strict.test,v=DMARC1; p=quarantine; adkim=s",
        "--txt-record=relaxed.test,v=spf1 -all",
        "--txt-record=_dmarc.relaxed.test,v=DMARC1; p=reject; adkim=r",
        "--txt-record=example.test,v=spf1 ip4:192.0.2.9 -all",
        "--txt-record=_dmarc.example.test,v=DMARC1; p=reject",
    ]
    return z


@pytest.fixture(scope="module")
def mail(tmp_path_factory, world, certs):
    """One instance: mx with checks, submission with signing; dnsmasq
    serving the keys ispmailctl made."""
    request_dir = str(tmp_path_factory.mktemp("inst"))
    inst = harness.Instance(services=mailutil.smtpd_services(maxproc=2)[:2],
                            name="ispmail-sauth")
    inst.params.update(mailutil.base_params(inst, certs))
    inst.params.update({"smtpd_direct_delivery": "no",
                        "smtpd_sender_auth": "yes",
                        "smtpd_sender_auth_timeout": "10s",
                        "proxy_trusted_networks": "127.0.0.0/8",
                        "dns_timeout": "2s", "dns_tries": "1"})
    inst.write_main_conf()
    mailutil.provision(inst)
    out = inst.ctl("dkim", "keygen", "example.test")
    assert out.returncode == 0, out.stderr
    records = re.findall(r'^(\S+)\. IN TXT \( (.*) \)$', out.stdout, re.M)
    assert len(records) == 2, out.stdout
    ours = []
    for name, strings in records:
        text = "".join(re.findall(r'"([^"]*)"', strings))
        ours.append(txt_record_option(name, text))
    server = dnsutil.DnsServer(request_dir, zone=zone(world, ours))
    server.start()
    inst.params["dns_servers"] = server.address
    inst.write_main_conf()
    inst.start()
    inst.dns = server
    inst.certs = certs
    yield inst
    log = inst.log()
    inst.close()
    server.stop()
    for marker in ("runtime error:", "AddressSanitizer", "LeakSanitizer"):
        assert marker not in log, log[-3000:]


def dnsfunc(inst):
    """dkimpy's key lookup, asking the instance's dnsmasq."""
    return dns_lookup(inst.dns)


def dns_lookup(server):
    """dkimpy's key lookup, asking the dnsmasq server."""
    host, port = server.address.split(":")

    def lookup(name, timeout=5):
        q = dns.message.make_query(name.decode().rstrip("."), "TXT")
        r = dns.query.udp(q, host, port=int(port), timeout=timeout)
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.TXT:
                for rd in rrset:
                    return b"".join(rd.strings)
        return None
    return lookup


def clear_queue(inst):
    for path in mailutil.queue_files(inst):
        os.unlink(path)


def queued(inst):
    """(prepended fields, message bytes) of the one queued message."""
    files = mailutil.queue_files(inst)
    assert len(files) == 1, files
    with open(files[0], "rb") as f:
        data = f.read()
    q = mailutil.read_queue_file(files[0])
    tail = data[data.index(q["message"]) + len(q["message"]):]
    fields = []
    for line in tail.split(b"\n"):
        if line.startswith(b"H\t"):
            _, _, value = line.partition(b"\t")
            name, _, text = value.partition(b"=")
            assert name == b"text", line
            fields.append(harness.attr_decode_value(
                text.decode("latin-1")).encode("latin-1"))
    os.unlink(files[0])
    return fields, q["message"]


def folder_records(inst):
    """The F (per-recipient folder) records of the one queued message."""
    files = mailutil.queue_files(inst)
    assert len(files) == 1, files
    with open(files[0], "rb") as f:
        return [line for line in f.read().split(b"\n")
                if line.startswith(b"F\t")]


def delivered(fields, message):
    """The message as a delivery agent sends it."""
    return b"".join(f + b"\r\n" for f in fields) + message


def send_mx(inst, sender, message, helo="client.example.net",
            rcpts=("alice@example.test",)):
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=30)
    try:
        s.ehlo(helo)
        code, text = s.docmd("XCLIENT", "ADDR=" + CLIENT)
        assert code == 220, text
        s.ehlo(helo)
        code, text = s.mail(sender)
        assert code == 250, text
        for r in rcpts:
            code, text = s.rcpt(r)
            assert code == 250, text
        return s.data(message)
    finally:
        s.close()


def msg(from_addr, subject="Hello", extra=b""):
    return (b"From: " + from_addr.encode() + b"\r\n"
            b"To: alice@example.test\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"Date: Wed, 02 Dec 2026 10:00:00 +0000\r\n"
            b"Message-ID: <" + subject.encode().replace(b" ", b".") +
            b"@test>\r\n" + extra +
            b"\r\nThe body.\r\n\r\n\r\n")


def auth_results(fields):
    ar = [f for f in fields if f.startswith(b"Authentication-Results:")]
    assert len(ar) == 1, fields
    text = re.sub(rb"\r\n[ \t]+", b" ", ar[0]).decode()
    assert text.startswith("Authentication-Results: %s;" % AUTHSERV), text
    return text


def submit(inst, message, sender="alice@example.test"):
    s = smtplib.SMTP("127.0.0.1", inst.port("submission"), timeout=30)
    try:
        s.ehlo("laptop.example.net")
        s.starttls(context=tlsutil.client_context(inst.certs))
        s.ehlo("laptop.example.net")
        s.login("alice@example.test", mailutil.PASSWORD)
        code, text = s.sendmail(sender, ["someone@far.example"], message), ""
        return code
    finally:
        s.close()


def shift_record_times(inst, seconds):
    """The TTL passes: every start and retire time of the DKIM keys in
    the routes file's domain records moves back by seconds."""
    path = os.path.join(inst.config_dir, "routes")
    with open(path) as f:
        text = f.read()

    def shift(m):
        start, retire = int(m.group(2)), int(m.group(3))
        return "%s:%d:%d" % (m.group(1), start - seconds,
                             retire - seconds if retire else 0)
    text = re.sub(r"([A-Za-z0-9-]+:(?:rsa|ed25519):[^:,\s]+):(\d+):(\d+)",
                  shift, text)
    with open(path + ".edit", "w") as f:
        f.write(text)
    os.rename(path + ".edit", path)


def test_submission_signed_rsa_and_ed25519_verified_by_dkimpy(mail):
    clear_queue(mail)
    submit(mail, msg("Alice <alice@example.test>", "signed"))
    fields, message = queued(mail)
    sigs = [f for f in fields if f.startswith(b"DKIM-Signature:")]
    assert len(sigs) == 2, fields
    algs = sorted(re.search(rb"a=([a-z0-9-]+)", s).group(1) for s in sigs)
    assert algs == [b"ed25519-sha256", b"rsa-sha256"], sigs
    for s in sigs:
        assert b"d=example.test" in s and b"c=relaxed/relaxed" in s, s
    whole = delivered(fields, message)
    d = dkim.DKIM(whole)
    for i in range(2):
        assert d.verify(idx=i, dnsfunc=dnsfunc(mail)), (i, whole[:2000])
    mail.wait_for_log(r"dkim signed d=example\.test s=\d+r")
    mail.wait_for_log(r"dkim signed d=example\.test s=\d+e")


def test_forwarded_signed_mail_still_verifies(mail):
    """Our signed mail relayed into an MX (ours) is passed on unchanged:
    the MX verifies it, and so does dkimpy at the next hop."""
    clear_queue(mail)
    submit(mail, msg("alice@example.test", "forwarded"))
    fields, message = queued(mail)
    code, text = send_mx(mail, "alice@example.test",
                         delivered(fields, message))
    assert code == 250, text
    fields2, message2 = queued(mail)
    ar = auth_results(fields2)
    assert ar.count("dkim=pass header.d=example.test") == 2, ar
    assert "dmarc=pass" in ar, ar
    whole = delivered(fields2, message2)
    d = dkim.DKIM(whole)
    # The A-R field sits on top; the signatures below it still verify.
    assert d.verify(idx=0, dnsfunc=dnsfunc(mail)), whole[:3000]
    assert d.verify(idx=1, dnsfunc=dnsfunc(mail))


@pytest.mark.parametrize("sender,result", [
    ("x@pass.test", "pass"), ("x@fail.test", "fail"),
    ("x@soft.test", "softfail"), ("x@void.test", "permerror"),
    ("x@many.test", "permerror"), ("x@nowhere.invalid", "temperror"),
])
def test_spf_results(mail, sender, result):
    clear_queue(mail)
    code, text = send_mx(mail, sender, msg("someone@other.test", "spf"))
    assert code == 250, text
    fields, _ = queued(mail)
    ar = auth_results(fields)
    domain = sender.split("@")[1]
    assert "spf=%s smtp.mailfrom=%s" % (result, domain) in ar, ar


def sign_dkimpy(message, selector, domain):
    path, pem, kind = WORLD.keys[selector]
    sig = dkim.sign(message, selector.encode(), domain.encode(),
                    dkimpy_key(pem, kind),
                    canonicalize=(b"relaxed", b"relaxed"),
                    signature_algorithm=b"ed25519-sha256"
                    if kind == "ed25519" else b"rsa-sha256",
                    include_headers=[b"from", b"to", b"subject", b"date"])
    return sig + message


WORLD = None


@pytest.fixture(autouse=True)
def _world(world):
    global WORLD
    WORLD = world


@pytest.mark.parametrize("selector", ["py-rsa", "py-ed"])
def test_dkimpy_signed_verified_dmarc_relaxed(mail, selector):
    clear_queue(mail)
    m = sign_dkimpy(msg("news@signer.test", "dkimpy " + selector),
                    selector, "signer.test")
    code, text = send_mx(mail, "bounce@signer.test", m)
    assert code == 250, text
    fields, _ = queued(mail)
    ar = auth_results(fields)
    assert "dkim=pass header.d=signer.test header.s=%s" % selector in ar
    assert "spf=fail" in ar and "dmarc=pass" in ar, ar


def test_opendkim_testmsg_rsa_sha1_refused(mail):
    """opendkim-testmsg (libopendkim 2.11) signs with rsa-sha1, which a
    verifier must not accept (RFC 8301 3.1): no valid signature, SPF
    fails, signer.test's p=reject applies.  libopendkim's rsa-sha256
    signatures are verified in tests/unit/check_dkim_verify."""
    clear_queue(mail)
    path = WORLD.keys["od-rsa"][0]
    r = subprocess.run([OPENDKIM_TESTMSG, "-C", "-d", "signer.test", "-k",
                        path, "-s", "od-rsa"],
                       input=msg("news@signer.test", "opendkim"),
                       capture_output=True, check=True)
    signed = r.stdout.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert signed.startswith(b"DKIM-Signature: v=1; a=rsa-sha1;"), \
        signed[:200]
    code, text = send_mx(mail, "bounce@signer.test", signed)
    assert code == 550 and b"DMARC policy of signer.test" in text, text


def test_tampered_signature_fails(mail):
    clear_queue(mail)
    m = sign_dkimpy(msg("news@signer.test", "tampered"), "py-rsa",
                    "signer.test").replace(b"The body.", b"The b0dy.")
    code, text = send_mx(mail, "bounce@signer.test", m)
    # DKIM fails, SPF fails: DMARC fails, p=reject is honoured.
    assert code == 550, text
    assert text.startswith(b"5.7.1 "), text


def test_dmarc_strict_alignment(mail):
    """d=mail.strict.test does not align strictly with strict.test
    (p=quarantine: accepted, dmarc=fail, logged for Junk); relaxed.test
    with the same kind of signature passes... relaxed."""
    clear_queue(mail)
    m = sign_dkimpy(msg("news@strict.test", "strict"), "py-rsa",
                    "mail.strict.test")
    code, text = send_mx(mail, "bounce@strict.test", m)
    assert code == 250, text
    assert folder_records(mail) == [b"F\tn=0\taction=dmarc\tfolder=Junk"]
    fields, _ = queued(mail)
    ar = auth_results(fields)
    assert "dkim=pass header.d=mail.strict.test" in ar, ar
    assert "dmarc=fail (p=quarantine) header.from=strict.test" in ar, ar
    mail.wait_for_log(r"to=<alice@example\.test>, dmarc quarantine policy "
                      r"of strict\.test: folder=Junk")


def test_forged_bank_rejected(mail):
    clear_queue(mail)
    code, text = send_mx(mail, "service@bank.test",
                         msg("Bank <service@bank.test>", "urgent"))
    assert code == 550, text
    assert text.startswith(b"5.7.1 ") and b"bank.test" in text, text
    assert mailutil.queue_files(mail) == []
    mail.wait_for_log(r"reject: DMARC policy of bank\.test says reject")


def test_forged_bank_junk_when_a_recipient_wants_junk(mail):
    clear_queue(mail)
    mail.params["smtpd_dmarc_junk_domains"] = "example.test"
    mail.write_main_conf()
    mail.reload()
    try:
        code, text = send_mx(mail, "service@bank.test",
                             msg("service@bank.test", "junk"))
        assert code == 250, text
        assert folder_records(mail) == [
            b"F\tn=0\taction=dmarc\tfolder=Junk"]
        fields, _ = queued(mail)
        assert "dmarc=fail (p=reject)" in auth_results(fields)
        mail.wait_for_log(r"to=<alice@example\.test>, dmarc reject policy "
                          r"of bank\.test: folder=Junk")
    finally:
        del mail.params["smtpd_dmarc_junk_domains"]
        mail.write_main_conf()
        mail.reload()


def send_forged(mail, subject, extra):
    """A message with the header fields extra, accepted with our one
    Authentication-Results field above it: the message as queued."""
    clear_queue(mail)
    code, text = send_mx(mail, "x@pass.test", msg("a@pass.test", subject,
                                                  extra))
    assert code == 250, text
    fields, message = queued(mail)
    auth_results(fields)
    assert b"bank.test" not in message, message
    return message


def test_forged_authentication_results_removed(mail):
    extra = (b"Authentication-Results: " + AUTHSERV.upper().encode() +
             b";\r\n\tdkim=pass header.d=bank.test\r\n"
             b"Authentication-Results: other.example; spf=pass\r\n")
    message = send_forged(mail, "ar", extra)
    assert b"Authentication-Results: other.example; spf=pass" in message
    mail.wait_for_log(r"removed 1 Authentication-Results field claiming "
                      r"authserv-id mx\.example\.test")


def test_bdat_in_small_chunks_filters_the_same(mail):
    """BDAT cut into 7-octet chunks: fields split anywhere are still
    recognised (ours dropped, others kept) and the signature verifies."""
    clear_queue(mail)
    extra = (b"Authentication-Results: " + AUTHSERV.encode() +
             b"; spf=pass\r\n\tsmtp.mailfrom=bank.test\r\n"
             b"Authentication-Results: other.example; dkim=pass\r\n")
    m = sign_dkimpy(msg("news@signer.test", "bdat", extra), "py-rsa",
                    "signer.test")
    s = smtplib.SMTP("127.0.0.1", mail.port("smtp"), timeout=30)
    try:
        s.ehlo("client.example.net")
        assert s.docmd("XCLIENT", "ADDR=" + CLIENT)[0] == 220
        s.ehlo("client.example.net")
        assert s.mail("bounce@signer.test")[0] == 250
        assert s.rcpt("alice@example.test")[0] == 250
        for i in range(0, len(m), 7):
            chunk = m[i:i + 7]
            last = i + 7 >= len(m)
            s.send(b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"")
                   + chunk)
            code, text = s.getreply()
            assert code == 250, (i, code, text)
    finally:
        s.close()
    fields, message = queued(mail)
    assert b"bank.test" not in message, message
    assert b"Authentication-Results: other.example; dkim=pass" in message
    ar = auth_results(fields)
    assert "dkim=pass header.d=signer.test" in ar and "dmarc=pass" in ar


def test_forged_authentication_results_id_then_control_removed(mail):
    """Our id followed by a NUL or another control, not a space or ';':
    a reader that stops there sees our id, so the field goes."""
    extra = (b"Authentication-Results: " + AUTHSERV.encode() +
             b"\x00x; dkim=pass header.d=bank.test\r\n"
             b"Authentication-Results: " + AUTHSERV.encode() +
             b"\x0bx; spf=pass smtp.mailfrom=bank.test\r\n")
    send_forged(mail, "arnul", extra)
    mail.wait_for_log(r"removed 2 Authentication-Results fields")


@pytest.mark.parametrize("from_field", [
    # The display name and the comment hold an address of another
    # domain: DMARC is of the address a reader is shown.
    '"Bank <x@pass.test>" <service@bank.test>',
    '(x@pass.test <x@pass.test>) service@bank.test',
    '"x@pass.test" <service@bank.test> (x@pass.test)',
])
def test_from_display_name_does_not_pick_the_dmarc_domain(mail, from_field):
    clear_queue(mail)
    code, text = send_mx(mail, "x@pass.test", msg(from_field, "display"))
    assert code == 550, (from_field, text)
    assert b"bank.test" in text, text


def test_from_ending_in_at_sign(mail):
    """Found by fuzz_smtpd_auth: the domain after a last '@' is empty,
    then the field's own line end; it was read past the address."""
    clear_queue(mail)
    code, text = send_mx(mail, "x@pass.test", msg("a@pass.test b@ ",
                                                  "atend"))
    assert code == 250, text
    fields, _ = queued(mail)
    assert "dmarc=none" in auth_results(fields)
    assert "runtime error:" not in mail.log()


def rejected_for(mail, from_field, subject, domain=b"bank.test"):
    """A forged From: (SPF and DKIM fail for bank.test): 550 5.7.1,
    nothing queued."""
    clear_queue(mail)
    code, text = send_mx(mail, "x@pass.test", msg(from_field, subject))
    assert code == 550, (from_field, text)
    assert text.startswith(b"5.7.1 ") and domain in text, (from_field, text)
    assert mailutil.queue_files(mail) == []


@pytest.mark.parametrize("from_field", [
    # Not read strictly: read leniently, as a MUA shows them.
    "PayPal <service@bank.test>;",
    "<service@bank.test> x",
    '"PayPal <service@bank.test>',
    "service@bank.test (x",
    "service@bank.test x@pass.test",
    "x@pass.test service@bank.test",
    'x@pass.test "<service@bank.test>',
])
def test_from_read_leniently_still_checked(mail, from_field):
    rejected_for(mail, from_field, "lenient")


@pytest.mark.parametrize("from_field", [
    "<service@bank.test>, <a@attacker.example>",
    "a@attacker.example, service@bank.test",
    "x@pass.test, Bank <service@bank.test>",
])
def test_from_with_several_mailboxes_strictest_domain(mail, from_field):
    """RFC 7489 6.6.1: every author domain is checked; bank.test's
    reject applies whatever else the field names."""
    rejected_for(mail, from_field, "several")


def test_two_from_fields_strictest_domain(mail):
    clear_queue(mail)
    m = b"From: x@pass.test\r\n" + msg("service@bank.test", "twofrom")
    code, text = send_mx(mail, "x@pass.test", m)
    assert code == 550 and b"bank.test" in text, text


def test_from_with_several_mailboxes_of_one_domain(mail):
    """Several mailboxes, one domain: that domain is evaluated (it was
    a permerror): signed by signer.test, DMARC passes."""
    clear_queue(mail)
    m = sign_dkimpy(msg("news@signer.test, Boss <boss@Signer.test>",
                        "onedomain"), "py-rsa", "signer.test")
    code, text = send_mx(mail, "bounce@signer.test", m)
    assert code == 250, text
    fields, _ = queued(mail)
    ar = auth_results(fields)
    assert "dmarc=pass (p=reject) header.from=signer.test" in ar, ar


def test_from_with_too_many_domains_rejected(mail):
    """More than 8 distinct author domains: not evaluated one by one,
    a failure under local policy."""
    domains = ", ".join("a@d%d.example" % i for i in range(9))
    rejected_for(mail, domains, "many", b"From: field")
    mail.wait_for_log(r"reject: From: field unreadable for DMARC")


@pytest.mark.parametrize("from_field", ["nobody", "", "Bank <service@>"])
def test_from_without_a_domain_rejected(mail, from_field):
    rejected_for(mail, from_field, "nodomain", b"From: field")


def folded(name, first, lines):
    """A header field of about 64 KiB and more: lines of 990 octets."""
    return (name + b": " + first + b"\r\n" +
            b"".join(b"\tx" + b"y" * 990 + b"\r\n" for _ in range(lines)))


def test_authentication_results_over_64k_removed(mail):
    extra = folded(b"Authentication-Results",
                   AUTHSERV.encode() + b"; dkim=pass header.d=bank.test", 70)
    assert b"Authentication-Results" not in send_forged(mail, "longar",
                                                        extra)
    mail.wait_for_log(r"removed 1 Authentication-Results field")


def test_from_over_64k_rejected(mail):
    """A From: field too long to read, and a second one of a domain
    without DMARC: a failure under local policy, never dmarc=none."""
    clear_queue(mail)
    m = (folded(b"From", b"Bank", 70) + b" <service@bank.test>\r\n" +
         msg("x@pass.test", "longfrom"))
    code, text = send_mx(mail, "x@pass.test", m)
    assert code == 550, text
    assert text.startswith(b"5.7.1 ") and b"From: field" in text, text
    assert mailutil.queue_files(mail) == []


def test_from_over_64k_junk_when_a_recipient_wants_junk(mail):
    """The same failure for a recipient that takes failures to Junk:
    accepted, filed in Junk, the field says why."""
    clear_queue(mail)
    mail.params["smtpd_dmarc_junk_domains"] = "example.test"
    mail.write_main_conf()
    mail.reload()
    try:
        m = folded(b"From", b"Bank", 70) + b" <service@bank.test>\r\n" + \
            msg("a@pass.test", "longjunk")[len(b"From: a@pass.test\r\n"):]
        code, text = send_mx(mail, "x@pass.test", m)
        assert code == 250, text
        assert folder_records(mail) == [
            b"F\tn=0\taction=dmarc\tfolder=Junk"]
        fields, _ = queued(mail)
        ar = auth_results(fields)
        assert 'dmarc=permerror reason="From: field unreadable"' in ar, ar
        mail.wait_for_log(r"to=<alice@example\.test>, dmarc local policy "
                          r"of an unreadable From:: folder=Junk")
    finally:
        del mail.params["smtpd_dmarc_junk_domains"]
        mail.write_main_conf()
        mail.reload()


def test_rotate_keeps_old_selector_until_ttl(mail):
    """Runs last: it changes example.test's keys."""
    before = mail.ctl("dkim", "show", "example.test")
    old = re.findall(r"^selector=(\S+) type=\S+ state=signing", before.stdout,
                     re.M)
    assert len(old) == 2, before.stdout
    out = mail.ctl("-o", "dkim_key_ttl=1m", "dkim", "rotate", "example.test")
    assert out.returncode == 0, out.stderr
    published = {}
    for name, strings in re.findall(r'^(\S+)\. IN TXT \( (.*) \)$',
                                    out.stdout, re.M):
        published[name] = "".join(re.findall(r'"([^"]*)"', strings))
    assert len(published) == 2, out.stdout
    assert "signs until" in out.stdout, out.stdout
    show = mail.ctl("dkim", "show", "example.test").stdout
    assert len(re.findall(r"state=pending", show)) == 2, show
    # Within the TTL the old selectors still sign.
    clear_queue(mail)
    submit(mail, msg("alice@example.test", "rotating"))
    fields, _ = queued(mail)
    used = sorted(re.search(rb"s=([A-Za-z0-9-]+)", f).group(1).decode()
                  for f in fields if f.startswith(b"DKIM-Signature:"))
    assert used == sorted(old), (used, old)
    # The TTL passes (the recorded times move back by two minutes).
    shift_record_times(mail, 120)
    clear_queue(mail)
    submit(mail, msg("alice@example.test", "rotated"))
    fields, message = queued(mail)
    new = sorted(n.split("._domainkey.")[0] for n in published)
    used = sorted(re.search(rb"s=([A-Za-z0-9-]+)", f).group(1).decode()
                  for f in fields if f.startswith(b"DKIM-Signature:"))
    assert used == new, (used, new)
    # Verified against the records rotate told us to publish.

    def lookup(name, timeout=5):
        return published[name.decode().rstrip(".")].encode()
    whole = delivered(fields, message)
    d = dkim.DKIM(whole)
    assert d.verify(idx=0, dnsfunc=lookup) and d.verify(idx=1,
                                                        dnsfunc=lookup)
    # The next rotate retires the old keys: files and values go.
    out = mail.ctl("-o", "dkim_key_ttl=1m", "dkim", "rotate", "example.test")
    assert out.stdout.count("retired selector") == 2, out.stdout
    for sel in old:
        assert not os.path.exists(os.path.join(
            mail.config_dir, "dkim", "example.test", sel + ".key"))


def test_master_check_dkim_key_modes(mail):
    """ispmail-master -t: a key others can read is a problem."""
    keydir = os.path.join(mail.config_dir, "dkim", "example.test")
    keys = [os.path.join(keydir, n) for n in os.listdir(keydir)
            if n.endswith(".key")]
    assert keys, os.listdir(keydir)

    def check():
        return subprocess.run([harness.MASTER, "-t", "-c", mail.config_dir],
                              capture_output=True, text=True, timeout=30)
    r = check()
    assert "dkim key" not in r.stderr, r.stderr
    os.chmod(keys[0], 0o644)
    try:
        r = check()
        assert r.returncode != 0
        assert "dkim key %s: mode 0644: readable by others than its owner" \
            % keys[0] in r.stderr, r.stderr
    finally:
        os.chmod(keys[0], 0o600)
