"""imapd with a real client: mbsync (Debian's isync) syncs a mailbox both
ways over STARTTLS, compressed (COMPRESS=DEFLATE); what it fetched is compared with what was delivered,
and flags changed on either side travel to the other."""

import os
import re
import shutil
import subprocess

import pytest

import tlsutil
from imapdutil import (USER, PASSWORD, deliver, files, login,
                       make_imap_instance, message)

MBSYNC = shutil.which("mbsync")


def local_messages(folder):
    """{Subject: (flags, bytes)} of a local Maildir."""
    out = {}
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(folder, sub)):
            with open(os.path.join(folder, sub, name), "rb") as f:
                data = f.read()
            subject = re.search(rb"^Subject: (.*)$", data, re.M).group(1)
            # mbsync marks what it uploads with X-TUID; not ours.
            data = re.sub(rb"^X-TUID: .*\n", b"", data, flags=re.M)
            out[subject.decode()] = (name.partition(":2,")[2], data)
    return out


def run_mbsync(config, *options):
    r = subprocess.run([MBSYNC, "-c", config, "-a"] + list(options),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "mbsync failed:\n%s\n%s" % (r.stdout,
                                                          r.stderr)
    return r


def test_mbsync_both_ways(make_instance, tmp_path):
    assert MBSYNC is not None, "mbsync (Debian package isync) is missing"
    certs = tlsutil.make_certs()
    inst, store = make_imap_instance(make_instance, tls=certs, params={
        "auth_allow_plaintext": "no"})
    delivered = {}
    for i in range(3):
        text = message("msg%d" % i, body="body %d\n" % i)
        deliver(store, text)
        delivered["msg%d" % i] = text.encode()
    deliver(os.path.join(store, ".Sent"), message("sent0"))
    local = tmp_path / "local"
    local.mkdir()
    config = tmp_path / "mbsyncrc"
    config.write_text("""\
IMAPAccount acc
Host localhost
Port %d
User %s
Pass %s
SSLType STARTTLS
CertificateFile %s
AuthMechs PLAIN

IMAPStore remote
Account acc

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel ch
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
""" % (inst.port("imap"), USER, PASSWORD, certs["ca"], local, local))
    # -Dn shows the protocol: mbsync takes COMPRESS=DEFLATE when offered,
    # so the whole sync runs deflated over TLS.
    r = run_mbsync(str(config), "-Dn")
    assert "COMPRESS DEFLATE" in r.stdout + r.stderr, r.stdout[-2000:]
    inbox = local_messages(str(local / "INBOX"))
    assert {k: v[1] for k, v in inbox.items()} == delivered
    assert set(local_messages(str(local / "Sent"))) == {"sent0"}
    for name in ("Drafts", "Junk", "Trash"):
        assert os.path.isdir(str(local / name / "cur")), name
    # Change flags on both sides, add a message locally, delete one.
    c = login_tls(inst, certs)
    c.select()
    typ, data = c.search(None, "SUBJECT", "msg0")
    c.store(data[0], "+FLAGS", r"\Flagged")
    c.logout()
    # mbsync keeps unread mail in new/: a client marking it moves it to cur/.
    cur = local / "INBOX" / "cur"
    for sub in ("new", "cur"):
        for name in os.listdir(str(local / "INBOX" / sub)):
            path = str(local / "INBOX" / sub / name)
            with open(path, "rb") as f:
                subject = re.search(rb"^Subject: (.*)$", f.read(),
                                    re.M).group(1)
            base = name.partition(":2,")[0]
            if subject == b"msg1":
                os.rename(path, str(cur / ("%s:2,RS" % base)))
            if subject == b"msg2":
                os.rename(path, str(cur / ("%s:2,ST" % base)))
    deliver(str(local / "INBOX"), message("from-client"))
    run_mbsync(str(config))
    c = login_tls(inst, certs)
    c.select()
    typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    server = {}
    for item in data:
        if isinstance(item, tuple):
            subject = re.search(rb"Subject: (\S+)", item[1]).group(1)
            server[subject.decode()] = item[0]
    c.logout()
    assert set(server) == {"msg0", "msg1", "from-client"}, server
    assert b"\\Flagged" in server["msg0"]
    assert b"\\Answered" in server["msg1"] and b"\\Seen" in server["msg1"]
    inbox = local_messages(str(local / "INBOX"))
    assert set(inbox) == {"msg0", "msg1", "from-client"}
    assert "F" in inbox["msg0"][0]
    assert inbox["from-client"][1] == message("from-client").encode()
    # The server's files agree with what it reported.
    on_disk = files(store)
    assert len(on_disk) == 3
    assert sorted(f or "" for f in on_disk.values()) == ["", "F", "RS"]


def login_tls(inst, certs):
    import imaplib
    c = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    c.starttls(ssl_context=tlsutil.client_context(certs))
    c.login(USER, PASSWORD)
    return c
