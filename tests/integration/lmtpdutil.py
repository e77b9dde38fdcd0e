"""Helpers for lmtpd's integration tests: an instance with an lmtpd
service and provisioned mailboxes (file routing backend), a raw LMTP
client that reads one DATA reply per recipient, and Maildir readers."""

import os
import socket
import smtplib

import harness

DOMAIN = "example.test"


def lmtp_instance(make_instance, params=None, maxproc=2, mailboxes=(),
                  start=True, unix_socket=None):
    """An instance running lmtpd as service "lmtp".  mailboxes: tuples
    (local part, settings...) given to `ispmailctl mailbox add`."""
    conf = {
        "route_backend": "file",
        "route_file_check_interval": "0",
        "store_owner": harness.current_user() if os.geteuid() != 0
        else "nobody",
        "myhostname": "store1.example.test",
        "lmtp_timeout": "10s",
    }
    conf.update(params or {})
    if unix_socket:
        service = harness.Service("lmtp", "lmtpd/lmtpd", type="unix",
                                  listen=unix_socket, maxproc=maxproc)
    else:
        service = harness.Service("lmtp", "lmtpd/lmtpd", maxproc=maxproc)
    inst = make_instance([service], conf)
    inst.write_main_conf()
    inst.routes = os.path.join(inst.config_dir, "routes")
    if conf["route_backend"] == "file" and not os.path.exists(inst.routes):
        open(inst.routes, "w").close()
        ctl_ok(inst, "domain", "add", DOMAIN)
    for mailbox in mailboxes:
        ctl_ok(inst, "mailbox", "add", "%s@%s" % (mailbox[0], DOMAIN),
               *mailbox[1:])
    if start:
        inst.start()
    return inst


def ctl_ok(inst, *args):
    result = inst.ctl(*args)
    assert result.returncode == 0, "ispmailctl %s: %s%s" % (
        " ".join(args), result.stdout, result.stderr)
    return result


def store(inst, local):
    return os.path.join(inst.store_dir, DOMAIN, local)


def messages(inst, local, folder=None):
    """{file name: bytes} of a mailbox folder's new/."""
    top = store(inst, local)
    if folder:
        top = os.path.join(top, "." + folder)
    new = os.path.join(top, "new")
    out = {}
    for name in sorted(os.listdir(new)):
        with open(os.path.join(new, name), "rb") as f:
            out[name] = f.read()
    return out


def tmp_files(inst, local):
    return os.listdir(os.path.join(store(inst, local), "tmp"))


def lmtp(inst):
    """An smtplib.LMTP client after LHLO."""
    client = smtplib.LMTP("127.0.0.1", inst.port("lmtp"), timeout=10)
    code, _ = client.ehlo("agent.example.test")
    assert code == 250
    return client


def transaction(client, sender, recipients, body, rcpt_options=()):
    """MAIL, RCPT each, DATA with smtplib, then one more reply per
    accepted recipient (smtplib reads only the first).  Returns
    (rcpt replies, data replies) as lists of (code, text)."""
    code, text = client.mail(sender)
    assert code == 250, (code, text)
    rcpt_replies = []
    for rcpt in recipients:
        rcpt_replies.append(client.rcpt(rcpt, list(rcpt_options)))
    accepted = sum(1 for code, _ in rcpt_replies if code == 250)
    if accepted == 0:
        client.rset()
        return rcpt_replies, []
    data_replies = [client.data(body)]
    for _ in range(accepted - 1):
        data_replies.append(client.getreply())
    return rcpt_replies, data_replies


class RawLMTP:
    """LMTP over a raw socket: send bytes as they are, read replies."""

    def __init__(self, inst, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1",
                                              inst.port("lmtp")), timeout)
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        return self.file.readline(65536).decode("utf-8", "replace")

    def reply(self):
        """One (possibly multi-line) reply: (code, [texts])."""
        texts = []
        while True:
            line = self.line()
            if not line:
                return None, texts
            line = line.rstrip("\r\n")
            texts.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), texts

    def command(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def close(self):
        self.file.close()
        self.sock.close()
