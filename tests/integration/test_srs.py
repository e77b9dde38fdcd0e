"""SRS in smtpd: bounces to valid SRS addresses in srs_domain are accepted
at RCPT and queued for that recipient; forged, expired and malformed ones
are refused.  The addresses are made here independently of common/mail/srs.c,
the way libsrs2 and postsrsd make them (HMAC-SHA1, base64, base32 days)."""

import base64
import hashlib
import hmac
import os
import smtplib
import time

import pytest

import mailutil
import tlsutil

SRS_DOMAIN = "bounces.example.net"
SECRETS = ["new-secret", "old-secret"]
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def srs_hash(secret, *fields):
    data = "".join(fields).lower().encode()
    digest = hmac.new(secret.encode(), data, hashlib.sha1).digest()
    return base64.b64encode(digest).decode()[:4]


def srs_stamp(days_ago=0):
    day = (int(time.time()) // 86400 - days_ago) % 1024
    return BASE32[(day >> 5) & 31] + BASE32[day & 31]


def srs0(sender, secret=SECRETS[0], days_ago=0, domain=SRS_DOMAIN):
    local, _, host = sender.rpartition("@")
    stamp = srs_stamp(days_ago)
    return "SRS0=%s=%s=%s=%s@%s" % (srs_hash(secret, stamp, host, local),
                                    stamp, host, local, domain)


def srs1(first_srs0, secret=SECRETS[0]):
    local, _, host = first_srs0.rpartition("@")
    rest = local[4:]
    return "SRS1=%s=%s=%s@%s" % (srs_hash(secret, host, rest), host, rest,
                                 SRS_DOMAIN)


STARTED = []


@pytest.fixture(autouse=True)
def sanitizer_clean():
    """The ASan/UBSan build must run clean: no report in any log (checked
    after the instances stop, so leaks are seen too)."""
    del STARTED[:]
    yield
    for inst in STARTED:
        log = inst.log()
        for marker in ("runtime error:", "AddressSanitizer",
                       "LeakSanitizer"):
            assert marker not in log, log[-3000:]


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


@pytest.fixture
def mail(make_instance, certs):
    inst = make_instance(services=mailutil.smtpd_services())
    secret_file = os.path.join(inst.config_dir, "srs-secrets")
    with open(secret_file, "w") as f:
        f.write("\n".join(SECRETS) + "\n")
    os.chmod(secret_file, 0o600)
    inst.params.update(mailutil.base_params(inst, certs))
    inst.params.update({
        "srs_domain": SRS_DOMAIN,
        "srs_secret_file": secret_file,
        "srs_max_age": "10d",
    })
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.start()
    STARTED.append(inst)
    return inst


def session(inst):
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    s.ehlo("remote.example")
    code, reply = s.mail("")
    assert code == 250, reply
    return s


def only_queue_file(inst):
    files = mailutil.queue_files(inst)
    assert len(files) == 1, files
    return mailutil.read_queue_file(files[0])


def test_valid_srs_bounce_accepted_and_queued(mail):
    valid = [
        srs0("alice@origin.example"),
        srs0("Bob.Smith@Origin.Example", days_ago=10),
        srs0("carol@origin.example", secret=SECRETS[1]),  # rotated key
        srs0("dave@origin.example").lower(),  # lower-cased on the way
        srs1(srs0("erin@origin.example", domain="fwd1.example",
                  secret="their-secret")),
    ]
    s = session(mail)
    for rcpt in valid:
        code, reply = s.rcpt(rcpt)
        assert code == 250, (rcpt, reply)
    code, reply = s.data(b"Subject: Undelivered Mail\r\n\r\nbounce\r\n")
    assert code == 250, reply
    s.quit()
    queued = only_queue_file(mail)
    assert queued["sender"] == ""
    assert [r["addr"] for r in queued["rcpts"]] == valid
    log = mail.log()
    assert "returns to alice@origin.example" in log
    assert "returns to Bob.Smith@Origin.Example" in log
    assert "returns to SRS0=" in log  # SRS1 goes to the first forwarder


@pytest.mark.parametrize("rcpt,code,status,text", [
    (srs0("alice@origin.example", secret="wrong"), 550, b"5.7.1",
     b"forged"),
    (srs0("alice@origin.example", days_ago=11), 550, b"5.7.1",
     b"expired"),
    (srs0("alice@origin.example", days_ago=400), 550, b"5.7.1",
     b"expired"),
    (srs0("alice@origin.example").replace("origin", "evil"), 550, b"5.7.1",
     b"forged"),
    ("SRS0=abcd=AA=origin.example@" + SRS_DOMAIN, 550, b"5.1.1",
     b"not a valid SRS address"),
    ("someone@" + SRS_DOMAIN, 550, b"5.1.1", b"not a valid SRS address"),
    # postmaster is left to the routing directory, which does not list
    # srs_domain.
    ("postmaster@" + SRS_DOMAIN, 554, b"5.7.1", b"Relay access denied"),
])
def test_bad_srs_refused(mail, rcpt, code, status, text):
    s = session(mail)
    got, reply = s.rcpt(rcpt)
    assert got == code, (rcpt, reply)
    assert reply.startswith(status), reply
    assert text in reply, reply
    # The session goes on: a real recipient is still accepted.
    got, reply = s.rcpt("alice@example.test")
    assert got == 250, reply
    s.quit()


def test_forged_and_expired_never_queued(mail):
    s = session(mail)
    for rcpt in (srs0("alice@origin.example", secret="wrong"),
                 srs0("alice@origin.example", days_ago=30)):
        code, _ = s.rcpt(rcpt)
        assert code == 550
    assert s.docmd("DATA")[0] == 554
    s.quit()
    assert mailutil.queue_files(mail) == []
    log = mail.log()
    assert "forged" in log and "expired" in log


def test_secret_file_missing_is_451(make_instance, certs):
    inst = make_instance(services=mailutil.smtpd_services())
    inst.params.update(mailutil.base_params(inst, certs))
    inst.params.update({
        "srs_domain": SRS_DOMAIN,
        "srs_secret_file": os.path.join(inst.config_dir, "missing"),
    })
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.start()
    STARTED.append(inst)
    s = session(inst)
    code, reply = s.rcpt(srs0("alice@origin.example"))
    assert code == 451, reply
    # Other domains are not affected.
    code, reply = s.rcpt("alice@example.test")
    assert code == 250, reply
    s.quit()
    assert "missing" in inst.log()


# -- end to end: a forward leaves with an SRS sender, its bounce comes home --

def test_forward_with_srs_and_bounce_returning_home(make_instance, certs):
    import harness
    import smtpremoteutil
    port = smtpremoteutil.free_port_on(["127.0.0.2"])
    remote = smtpremoteutil.RemoteMTA("127.0.0.2", port,
                                      name="far.remote.test").start()
    try:
        lmtp_port = harness.free_port()
        inst = make_instance(services=smtpremoteutil.outbound_services(
            lmtp_port))
        inst.params.update(mailutil.delivery_params(inst, certs, lmtp_port))
        secret_file = os.path.join(inst.config_dir, "srs-secrets")
        with open(secret_file, "w") as f:
            f.write("\n".join(SECRETS) + "\n")
        os.chmod(secret_file, 0o600)
        inst.params.update({"srs_domain": SRS_DOMAIN,
                            "srs_secret_file": secret_file,
                            # All remote mail goes to our test server.
                            "relayhost": "[127.0.0.2]:%d" % port})
        inst.write_main_conf()
        mailutil.provision(inst)
        r = inst.ctl("forward", "add", "bob@example.test",
                     "bob@far.remote.test")
        assert r.returncode == 0, r.stderr
        inst.start()
        # Mail from outside to bob is forwarded with an SRS sender.
        s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
        s.sendmail("sender@origin.example", ["bob@example.test"],
                   b"Subject: forwarded\r\n\r\nhi\r\n")
        # Our own customer's mail keeps its sender.
        s.sendmail("alice@example.test", ["bob@example.test"],
                   b"Subject: from a customer\r\n\r\nhi\r\n")
        s.quit()
        msgs = remote.wait_messages(2, inst=inst)
        senders = {}
        for m in msgs:
            subject = [l for l in m.data.split(b"\r\n")
                       if l.startswith(b"Subject:")][0]
            senders[subject] = m.mail.split(">", 1)[0].split("<", 1)[1]
            assert m.rcpt_addresses() == ["bob@far.remote.test"]
        srs_sender = senders[b"Subject: forwarded"]
        assert srs_sender.startswith("SRS0=")
        assert srs_sender.endswith("=origin.example=sender@" + SRS_DOMAIN)
        assert senders[b"Subject: from a customer"] == "alice@example.test"
        # The far side bounces to the SRS address: it returns home.
        s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
        s.sendmail("", [srs_sender], b"Subject: bounce\r\n\r\nfailed\r\n")
        s.quit()
        msgs = remote.wait_messages(3, inst=inst)
        back = [m for m in msgs if b"Subject: bounce" in m.data]
        assert len(back) == 1
        assert back[0].rcpt_addresses() == ["sender@origin.example"]
        assert back[0].mail.startswith("FROM:<>")
        assert "returns to sender@origin.example (SRS)" in inst.log()
    finally:
        remote.stop()
