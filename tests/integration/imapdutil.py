"""Helpers for the imapd tests: an instance with one provisioned mailbox,
deliveries straight into new/ (as lmtpd makes them), raw IMAP lines."""

import imaplib
import os
import socket
import time

import harness

USER = "alice@example.test"
PASSWORD = "alice-secret"

_counter = [0]


def make_imap_instance(make_instance, params=None, tls=None, quota=None,
                       services_extra=(), maxproc=8):
    """Start an instance with imapd; returns (inst, store path).
    tls: the tlsutil paths to configure tls_cert_file with; maxproc: the
    imap service's (1 with imap_client_limit above 1: every session in
    one process)."""
    p = {
        "route_backend": "file",
        "store_owner": harness.current_user() if os.geteuid() != 0
        else "nobody",
        "route_file_check_interval": "0",
        "auth_failure_delay": "0",
        "auth_allow_plaintext": "yes",
        "imap_idle_check_interval": "1s",
    }
    if tls is not None:
        p["tls_cert_file"] = tls["cert"]
        p["tls_key_file"] = tls["key"]
    p.update(params or {})
    services = [harness.Service("imap", "imapd/imapd", maxproc=maxproc)]
    services.extend(services_extra)
    inst = make_instance(services=services, params=p)
    inst.write_main_conf()
    open(os.path.join(inst.config_dir, "routes"), "w").close()
    for args, stdin in (
            (("domain", "add", "example.test"), None),
            (("mailbox", "add", USER, "--password-stdin")
             + (("quota=%d" % quota,) if quota else ()), PASSWORD + "\n")):
        r = inst.ctl(*args, input=stdin)
        assert r.returncode == 0, r.stderr
    inst.start()
    store = os.path.join(inst.store_dir, "example.test", "alice")
    assert os.path.isdir(os.path.join(store, "new")), store
    return inst, store


def message(subject="hello", body="Hello world.\n", sender="bob@remote.test",
            extra=""):
    return ("From: Bob <%s>\nTo: Alice <%s>\nSubject: %s\n"
            "Date: Mon, 7 Feb 1994 21:52:25 -0800\nMessage-ID: <%s@x>\n%s\n%s"
            % (sender, USER, subject, subject.replace(" ", "."), extra, body))


def deliver(folder_dir, text, when=None):
    """Write a message into folder_dir/new the way lmtpd does (tmp, then
    link); returns the file's name (its base: the part before ":2,")."""
    data = text.replace("\r\n", "\n").encode()
    _counter[0] += 1
    now = when or time.time()
    base = "%d.M%06dP%dQ%d.testhost" % (int(now), int((now % 1) * 1e6),
                                        os.getpid(), _counter[0])
    name = "%s,S=%d,W=%d" % (base, len(data), len(data) + data.count(b"\n"))
    tmp = os.path.join(folder_dir, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.link(tmp, os.path.join(folder_dir, "new", name))
    os.unlink(tmp)
    return name


def files(folder_dir):
    """{base name: flags or None (in new/)} of a folder."""
    out = {}
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(folder_dir, sub)):
            base, _, flags = name.partition(":2,")
            out[base] = flags if sub == "cur" else None
    return out


def no(result, code=None):
    """Assert an imaplib (typ, data) result is NO (with code)."""
    typ, data = result
    assert typ == "NO", result
    if code is not None:
        assert code.encode() in data[0], result


def login(inst):
    c = imaplib.IMAP4("127.0.0.1", inst.port("imap"), timeout=20)
    c.login(USER, PASSWORD)
    return c


class Raw:
    """A plain socket speaking IMAP lines, for what imaplib will not send."""

    def __init__(self, inst, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", inst.port("imap")),
                                             timeout=timeout)
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; got %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def until_tagged(self, tag):
        """Lines up to and including the tagged reply for tag."""
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def cmd(self, text, tag="t1"):
        self.send("%s %s\r\n" % (tag, text))
        return self.until_tagged(tag)

    def login(self):
        return self.cmd('LOGIN "%s" "%s"' % (USER, PASSWORD), "L")

    def closed(self):
        """True when the server closed the connection."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def raw_ok(r, text, tag="t"):
    """The untagged lines of a command that must answer OK."""
    lines = r.cmd(text, tag)
    assert lines[-1].startswith(tag + " OK"), lines[-3:]
    return lines[:-1]


def raw_selected(inst, count, enable=None):
    """A Raw session logged in with INBOX (count messages) selected."""
    r = Raw(inst, timeout=30)
    assert r.login()[-1].startswith("L OK")
    if enable:
        raw_ok(r, "ENABLE " + enable, "e")
    lines = r.cmd("SELECT INBOX", "s")
    assert lines[-1].startswith("s OK"), lines[-3:]
    assert "* %d EXISTS" % count in lines, lines[:5]
    return r


def fill_cur(folder, count, tag, flags=""):
    """count small messages straight into cur/ with flags, named as
    bench/imap-load names them (tag in the name)."""
    for i in range(count):
        data = ("From: s%d@remote.test\nTo: %s\nSubject: m%d\n\nbody %d\n"
                % (i, USER, i, i)).encode()
        name = "%d.M%06dP1Q%d.%s,S=%d:2,%s" % (1600000000 + i, i, i, tag,
                                               len(data), flags)
        with open(os.path.join(folder, "cur", name), "wb") as f:
            f.write(data)
