#!/usr/bin/python3
"""Send a message to a mailbox over SMTP on port 25 and read it back over
IMAPS on port 993, as an installed ispmail serves them.

usage: mailcheck.py ADDRESS PASSWORD MAILDIR
Exits 0 when the message came back, 1 (with the reason) otherwise."""

import imaplib
import os
import smtplib
import ssl
import sys
import time
import uuid

TIMEOUT = 30


def fail(reason):
    print("mailcheck: FAIL: " + reason, file=sys.stderr)
    sys.exit(1)


def wait_delivered(maildir, token):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        for sub in ("new", "cur"):
            folder = os.path.join(maildir, sub)
            for name in os.listdir(folder) if os.path.isdir(folder) else []:
                with open(os.path.join(folder, name), "rb") as f:
                    if token.encode() in f.read():
                        return os.path.join(folder, name)
        time.sleep(0.2)
    fail("the message %s did not reach %s in %ds" % (token, maildir, TIMEOUT))


def main():
    address, password, maildir = sys.argv[1:4]
    token = "ispmail-package-test-" + uuid.uuid4().hex
    message = ("From: <tester@example.net>\r\nTo: <%s>\r\n"
               "Subject: %s\r\n\r\nSent to the installed package.\r\n"
               % (address, token))
    with smtplib.SMTP("127.0.0.1", 25, timeout=TIMEOUT) as smtp:
        smtp.ehlo("client.example.net")
        refused = smtp.sendmail("tester@example.net", [address], message)
        if refused:
            fail("SMTP refused %r" % refused)
    path = wait_delivered(maildir, token)
    print("mailcheck: delivered to %s" % path)

    # The package's certificate is the host's self-signed snakeoil one.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    imap = imaplib.IMAP4_SSL("127.0.0.1", 993, ssl_context=context,
                             timeout=TIMEOUT)
    imap.login(address, password)
    typ, data = imap.select("INBOX")
    if typ != "OK":
        fail("SELECT INBOX: %r" % data)
    typ, data = imap.search(None, "SUBJECT", token)
    if typ != "OK" or not data[0]:
        fail("IMAP SEARCH found no message with subject %s" % token)
    typ, data = imap.fetch(data[0].split()[0], "(BODY[])")
    if typ != "OK" or token.encode() not in data[0][1]:
        fail("IMAP FETCH did not return the message: %r" % data)
    imap.logout()
    print("mailcheck: read back over IMAPS on 993: %s" % token)


if __name__ == "__main__":
    main()
