#!/usr/bin/python3
"""Write the seed inputs of fuzz_smtpd_auth (tests/fuzz/corpus/smtpd_auth).

Messages signed by dkimpy (Debian's python3-dkim) with the test keys in
tests/fuzz/keys/ (RSA-2048 and Ed25519, for these seeds only), and the zone
that serves their key records, SPF and DMARC records.  The input format is
in fuzz_smtpd_auth.c: the read size byte, the zone up to a NUL, then the
client's bytes.  Run it again only when the format or the keys change:

    /usr/bin/python3 tests/fuzz/smtpd_auth_corpus.py
"""
import base64
import os
import subprocess

import dkim

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "keys")
OUT = os.path.join(HERE, "corpus", "smtpd_auth")

RSA_PEM = open(os.path.join(KEYS, "smtpd_auth-rsa.pem"), "rb").read()
ED_SEED = open(os.path.join(KEYS, "smtpd_auth-ed25519.seed"),
               "rb").read().strip()


def rsa_record():
    der = subprocess.run(["openssl", "rsa", "-pubout", "-outform", "DER"],
                         input=RSA_PEM, capture_output=True,
                         check=True).stdout
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def ed_record():
    import nacl.signing
    key = nacl.signing.SigningKey(base64.b64decode(ED_SEED))
    return "v=DKIM1; k=ed25519; p=" + base64.b64encode(
        bytes(key.verify_key)).decode()


ZONE = [
    "example.org txt v=spf1 ip4:192.0.2.1 -all",
    "_dmarc.example.org txt/60 v=DMARC1; p=reject; adkim=s; aspf=r",
    "rsa._domainkey.example.org txt " + rsa_record(),
    "ed._domainkey.example.org txt/0 " + ed_record(),
    "bank.test txt v=spf1 a mx include:_spf.bank.test -all",
    "bank.test a 198.51.100.7",
    "bank.test mx 10 mx.bank.test",
    "mx.bank.test aaaa 2001:db8::25",
    "_spf.bank.test nodata",
    "_dmarc.bank.test txt v=DMARC1; p=reject; sp=quarantine; pct=100",
    "_dmarc.junk.test txt v=DMARC1; p=quarantine",
    "junk.test txt v=spf1 ~all",
    "slow.test timeout",
    "_dmarc.slow.test servfail",
    "gone._domainkey.example.org nx/30",
]


def sign(msg, selector, alg=b"rsa-sha256", canon=(b"relaxed", b"relaxed"),
         length=False):
    key = RSA_PEM if alg == b"rsa-sha256" else ED_SEED
    sig = dkim.sign(msg, selector.encode(), b"example.org", key,
                    canonicalize=canon, signature_algorithm=alg,
                    include_headers=[b"from", b"to", b"subject", b"date"],
                    length=length)
    return sig + msg


def message(from_field="From: Alice <alice@example.org>", extra=b"",
            body=b"Hello.\r\n\r\nA second paragraph.\r\n"):
    return (from_field.encode() + b"\r\n"
            b"To: user@example.test\r\n"
            b"Subject: a test\r\n"
            b"Date: Thu, 03 Dec 2026 08:00:00 +0000\r\n" + extra +
            b"\r\n" + body)


def data_session(msg, sender="alice@example.org",
                 rcpts=("user@example.test",)):
    s = b"EHLO client.example.org\r\n"
    s += b"MAIL FROM:<" + sender.encode() + b">\r\n"
    for r in rcpts:
        s += b"RCPT TO:<" + r.encode() + b">\r\n"
    s += b"DATA\r\n"
    for line in msg.split(b"\r\n")[:-1]:
        s += (b"." if line.startswith(b".") else b"") + line + b"\r\n"
    return s + b".\r\nQUIT\r\n"


def bdat_session(msg, cuts, sender="alice@example.org"):
    s = (b"EHLO client.example.org\r\nMAIL FROM:<" + sender.encode() +
         b">\r\nRCPT TO:<user@example.test>\r\n")
    pos = 0
    for cut in cuts + [len(msg)]:
        piece = msg[pos:cut]
        last = b" LAST" if cut == len(msg) else b""
        s += b"BDAT %d%s\r\n" % (len(piece), last) + piece
        pos = cut
    return s + b"QUIT\r\n"


def write(name, session, chunk=0, zone=ZONE):
    data = bytes([chunk]) + "\n".join(zone).encode() + b"\0" + session
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    forged = (b"Authentication-Results: mx.example.test;\r\n"
              b"\tdkim=pass header.d=bank.test\r\n")
    m = sign(message(), "rsa")
    write("rsa-relaxed-pass", data_session(forged + m))
    m = sign(message(body=b"Line one \r\n\r\n\r\n"), "rsa",
             canon=(b"simple", b"simple"))
    write("rsa-simple-bdat-cuts", bdat_session(m, [7, 30, 31, 200, 201]), 0)
    m = sign(message(), "ed", alg=b"ed25519-sha256")
    m = sign(m, "rsa", length=True)
    write("two-signatures-small-reads", data_session(m), 5)
    m = sign(message(extra=b"X-Long: " + b"x" * 980 + b"\r\n"
                     b"X-Folded: a\r\n b\r\n\tc\r\n"), "rsa")
    write("long-and-folded-fields", data_session(m), 3)
    m = sign(message(), "gone")
    write("key-nxdomain", data_session(m))
    # Tampered after signing: the body hash, then a signed field.
    m = sign(message(), "rsa").replace(b"A second", b"A third")
    write("body-changed", data_session(m))
    m = sign(message(), "rsa").replace(b"a test", b"b test")
    write("header-changed", data_session(m))
    write("dmarc-reject-forged-bank",
          data_session(message("From: Bank <security@bank.test>"),
                       sender="x@bank.test"))
    write("dmarc-quarantine",
          data_session(message("From: <a@junk.test>"), sender="a@junk.test",
                       rcpts=("user@example.test", "postmaster@example.test")))
    write("from-several",
          data_session(message("From: a@example.org, b@bank.test",
                               extra=b"From: =?utf-8?q?B=C3=A4nk?= "
                               b"<c@bank.test>\r\n")))
    write("from-encoded-quoted-comment",
          data_session(message('From: "=?utf-8?b?w6Q=?= <x@slow.test>" '
                               '(c@bank.test) <alice@example.org>')))
    write("lookups-timeout-servfail",
          data_session(message("From: <s@slow.test>"), sender="s@slow.test"))
    write("null-sender-helo",
          data_session(message(), sender=""))
    write("bare-lf-header",
          data_session(message().replace(b"\r\n", b"\n", 3)
                       .replace(b"\nTo:", b"\nAuthentication-Results: "
                                b"MX.example.test\n\tspf=pass\nTo:")))
    m = sign(message(), "rsa")
    write("rset-then-again",
          data_session(m).replace(b"DATA\r\n", b"RSET\r\n"
                                  b"MAIL FROM:<a@bank.test>\r\n"
                                  b"RCPT TO:<user@example.test>\r\n"
                                  b"DATA\r\n", 1))


if __name__ == "__main__":
    main()
