"""DKIM signing in submission smtpd with keys parsed once a process
(common/mail/dkim_sign.c, dkim_keycache.c): what we sign, dkimpy
(Debian's python3-dkim, code we did not write) verifies, for messages
with long and folded fields, an empty body, no final CRLF (BDAT),
trailing empty lines and an 8-bit body; a key replaced on disk signs
the next message, without a restart, and an unchanged key is not parsed
again.  The keys are ispmailctl dkim keygen's and openssl's; the records
are the ones keygen prints (dkimpy's lookup answers from them)."""

import os
import re
import smtplib
import subprocess

import dkim
import pytest

import harness
import mailutil
import tlsutil
# The queue file readers of the sender authentication tests.
from test_sender_auth import clear_queue, dkim_txt_of, queued


def records_of(keygen_stdout):
    """{selector._domainkey.domain: TXT text} from keygen/rotate."""
    out = {}
    for name, strings in re.findall(r'^(\S+)\. IN TXT \( (.*) \)$',
                                    keygen_stdout, re.M):
        out[name] = "".join(re.findall(r'"([^"]*)"', strings))
    return out


@pytest.fixture(scope="module")
def signing(tmp_path_factory):
    """A submission smtpd (one process: the cache is per process) that
    trusts loopback, and example.test's keys."""
    certs = tlsutil.make_certs()
    svc = harness.Service("submission", "smtpd/smtpd", maxproc=1,
                          options={"smtpd_mode": "submission"})
    inst = harness.Instance(services=[svc], name="ispmail-dkimsign")
    inst.params.update(mailutil.base_params(inst, certs))
    inst.params.update({"smtpd_direct_delivery": "no",
                        "mynetworks": "127.0.0.0/8"})
    inst.write_main_conf()
    mailutil.provision(inst)
    out = inst.ctl("dkim", "keygen", "example.test")
    assert out.returncode == 0, out.stderr
    inst.records = records_of(out.stdout)
    assert len(inst.records) == 2, out.stdout
    inst.start()
    yield inst
    log = inst.log()
    inst.close()
    for marker in ("runtime error:", "AddressSanitizer", "LeakSanitizer"):
        assert marker not in log, log[-3000:]


def lookup_in(records):
    def lookup(name, timeout=5):
        text = records.get(name.decode().rstrip("."))
        return text.encode() if text is not None else None
    return lookup


def send(inst, message, bdat=False, eightbit=False):
    """Submit message (BDAT LAST: exactly these octets); the signature
    fields and the message as queued."""
    clear_queue(inst)
    s = smtplib.SMTP("127.0.0.1", inst.port("submission"), timeout=30)
    try:
        s.ehlo("laptop.example.net")
        opts = ["BODY=8BITMIME"] if eightbit else []
        if not bdat:
            s.sendmail("alice@example.test", ["someone@far.test"], message,
                       mail_options=opts)
        else:
            assert s.mail("alice@example.test", opts)[0] == 250
            assert s.rcpt("someone@far.test")[0] == 250
            s.send(b"BDAT %d LAST\r\n" % len(message) + message)
            code, text = s.getreply()
            assert code == 250, text
    finally:
        s.close()
    return queued(inst)


def verify_all(fields, message, records):
    """Both signatures (RSA, Ed25519) verify with dkimpy."""
    sigs = [f for f in fields if f.startswith(b"DKIM-Signature:")]
    assert len(sigs) == 2, fields
    algs = sorted(re.search(rb"a=([a-z0-9-]+)", s).group(1) for s in sigs)
    assert algs == [b"ed25519-sha256", b"rsa-sha256"], sigs
    whole = b"".join(f + b"\r\n" for f in fields) + message
    d = dkim.DKIM(whole)
    return [d.verify(idx=i, dnsfunc=lookup_in(records)) for i in range(2)]


HEAD = (b"From: Alice <alice@example.test>\r\n"
        b"Date: Wed, 02 Dec 2026 10:00:00 +0000\r\n"
        b"Message-ID: <%s@example.test>\r\n")

CASES = {
    "long-and-folded": (
        HEAD % b"long" +
        b"To: " + b",\r\n\t".join(b"user%d@far.test" % i
                                  for i in range(300)) + b"\r\n"
        b"Subject:   a subject   folded\r\n   over \t  lines   \r\n"
        b"X-Long: " + b"x" * 900 + b"\r\n"
        b"\r\nThe body.\r\n", {}),
    # Thousands of To: fields: the last 8 are signed (an h= naming every
    # one would not fit a queue file's header record: sent unsigned).
    "many-to-fields": (
        HEAD % b"manyto" +
        b"".join(b"To: user%d@far.test\r\n" % i for i in range(3000)) +
        b"Subject: many\r\n\r\nThe body.\r\n", {}),
    "empty-body": (HEAD % b"empty" + b"Subject: empty\r\n\r\n", {}),
    "no-final-crlf": (HEAD % b"nocrlf" + b"Subject: no crlf\r\n\r\n"
                      b"no line end here", {"bdat": True}),
    "trailing-empty-lines": (
        HEAD % b"trailing" + b"Subject: trailing\r\n\r\n"
        b"text  \t \r\n\r\n \r\n\t\r\n\r\n\r\n", {}),
    "8bit": (
        HEAD % b"8bit" +
        b"Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" +
        "Grüße aus Köln, 10 €\r\n".encode() * 20, {"eightbit": True}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_signed_variants_verify_with_dkimpy(signing, case):
    message, opts = CASES[case]
    fields, queued = send(signing, message, **opts)
    # The message itself is passed on unchanged (below Received:).
    assert queued.endswith(message), queued[-300:]
    assert verify_all(fields, queued, signing.records) == [True, True]
    for f in fields:
        if f.startswith(b"DKIM-Signature:"):
            names = re.search(rb"h=([^;]*);", f).group(1)
            names = re.sub(rb"\s+", b"", names).split(b":")
            assert names.count(b"to") <= 8, f
            assert names.count(b"from") <= 8, f


LOADED = r"smtpd\[(\d+)\]: \S+: dkim key (\S+) loaded"
SIGNED = r"smtpd\[(\d+)\]: \S+: dkim signed d=example\.test"


def test_replaced_key_signs_without_restart(signing):
    """Keys parsed once: a second message does not parse them again;
    keys replaced on disk (by rename, as a careful operator does) sign
    the next message, in the same smtpd process."""
    keydir = os.path.join(signing.config_dir, "dkim", "example.test")
    keys = sorted(n for n in os.listdir(keydir) if n.endswith(".key"))
    assert len(keys) == 2, keys
    message = HEAD % b"rotate" + b"Subject: rotate\r\n\r\nBody.\r\n"
    fields, queued = send(signing, message)
    assert verify_all(fields, queued, signing.records) == [True, True]
    loads = len(re.findall(LOADED, signing.log()))
    fields, queued = send(signing, message)
    assert verify_all(fields, queued, signing.records) == [True, True]
    assert len(re.findall(LOADED, signing.log())) == loads
    signer_pid = re.findall(SIGNED, signing.log())[-1]
    new_records = {}
    for name in keys:
        selector = name[:-len(".key")]
        path = os.path.join(keydir, name)
        kind = "ed25519" if "k=ed25519" in signing.records[
            "%s._domainkey.example.test" % selector] else "rsa"
        tmp = path + ".new"
        args = ["openssl", "genpkey", "-out", tmp]
        args += ["-algorithm", "ED25519"] if kind == "ed25519" else \
            ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        subprocess.run(args, check=True, capture_output=True)
        st = os.stat(path)
        os.chmod(tmp, 0o600)
        if os.geteuid() == 0:
            os.chown(tmp, st.st_uid, st.st_gid)
        os.rename(tmp, path)
        new_records["%s._domainkey.example.test" % selector] = \
            dkim_txt_of(path, kind)
    fields, queued = send(signing, message)
    assert verify_all(fields, queued, new_records) == [True, True]
    assert verify_all(fields, queued, signing.records) == [False, False]
    after = re.findall(LOADED, signing.log())
    assert len(after) == loads + 2, after
    assert sorted(path for _, path in after[-2:]) == sorted(
        os.path.join(keydir, k) for k in keys), after
    # The same process signed before and after: no restart needed.
    assert {pid for pid, _ in after[-2:]} == {signer_pid}, after
    assert re.findall(SIGNED, signing.log())[-1] == signer_pid
    signing.records.update(new_records)
