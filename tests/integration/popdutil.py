"""Helpers for popd's integration tests: the services, mailboxes provisioned
with ispmailctl (file backend), messages written into a store the way
lmtpd writes them (common/store/maildir.h names, LF line ends), and a raw POP3
client that can switch to TLS."""

import itertools
import os
import socket
import ssl
import time

import harness

PASSWORD = "s3cret-pw"
POPD = "popd/popd"

_counter = itertools.count(1)


def services():
    """pop3 (STLS), pop3s (implicit TLS), pop3p (plaintext logins
    allowed), pop3t (tight limits for the limit tests), pop3one (one
    process: every session of a test meets the same process), pop3nokeep
    (one process, auth_hash_memory_keep=no)."""
    return [
        harness.Service("pop3", POPD, maxproc=6),
        harness.Service("pop3s", POPD, maxproc=4,
                        options={"tls_wrapper_mode": "yes"}),
        harness.Service("pop3p", POPD, maxproc=6,
                        options={"auth_allow_plaintext": "yes"}),
        harness.Service("pop3t", POPD, maxproc=4,
                        options={"auth_allow_plaintext": "yes",
                                 "pop_command_timeout": "2s",
                                 "pop_max_bad_commands": "4",
                                 "pop_line_limit": "300",
                                 "auth_failure_delay": "1s",
                                 "auth_failure_limit": "2",
                                 "pop_login_delay": "60s"}),
        harness.Service("pop3one", POPD, maxproc=1,
                        options={"auth_allow_plaintext": "yes"}),
        harness.Service("pop3nokeep", POPD, maxproc=1,
                        options={"auth_allow_plaintext": "yes",
                                 "auth_hash_memory_keep": "no"}),
    ]


def params(certs):
    return {
        "route_backend": "file",
        "route_file_check_interval": "0",
        "store_owner": harness.current_user() if os.geteuid() != 0
        else "nobody",
        "tls_cert_file": certs["cert"],
        "tls_key_file": certs["key"],
        "auth_failure_delay": "0",
        "auth_failure_limit": "3",
        "myhostname": "pop.example.test",
    }


def ctl(inst, *args, input=None):
    r = inst.ctl(*args, input=input)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def provision(inst):
    open(os.path.join(inst.config_dir, "routes"), "a").close()
    ctl(inst, "domain", "add", "example.test")
    ctl(inst, "mailbox", "add", "carol@example.test", "state=disabled",
        "--password-stdin", input=PASSWORD + "\n")
    ctl(inst, "mailbox", "add", "dave@example.test", "state=suspended",
        "--password-stdin", input=PASSWORD + "\n")


def new_mailbox(inst, *settings, prefix="user"):
    """A fresh mailbox for one test; returns (address, store path)."""
    address = "%s%d@example.test" % (prefix, next(_counter))
    ctl(inst, "mailbox", "add", address, *settings, "--password-stdin",
        input=PASSWORD + "\n")
    return address, store_path(inst, address)


def store_path(inst, address):
    local, domain = address.split("@")
    return os.path.join(inst.store_dir, domain, local)


def deliver(store, body, folder_new=True):
    """Write body (bytes, CRLF or LF line ends; stored with LF as lmtpd
    does) into store/new like maildir_deliver_*; returns the file name."""
    data = body.replace(b"\r\n", b"\n")
    now = time.time()
    unique = "%d.M%06dP%dQ%d.testhost" % (int(now), int(now * 1e6) % 1000000,
                                          os.getpid(), next(_counter))
    name = "%s,S=%d,W=%d" % (unique, len(data), len(data) + data.count(b"\n"))
    tmp = os.path.join(store, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    if folder_new:
        os.rename(tmp, os.path.join(store, "new", name))
    else:
        name += ":2,"
        os.rename(tmp, os.path.join(store, "cur", name))
    return name


def crlf(body):
    """What a POP3 client receives for a stored body (without stuffing)."""
    data = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def store_files(store):
    """{'new': [...], 'cur': [...]} file names."""
    return {d: sorted(os.listdir(os.path.join(store, d)))
            for d in ("new", "cur")}


def base(name):
    return name.split(":2,")[0]


def lock_holder(store):
    """The pid holding popd's fcntl lock on store/pop3.lock (None)."""
    st = os.stat(os.path.join(store, "pop3.lock"))
    dev = "%02x:%02x:%d" % (os.major(st.st_dev), os.minor(st.st_dev),
                            st.st_ino)
    with open("/proc/locks") as f:
        for line in f:
            fields = line.split()
            # "1: POSIX  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
            if fields[1] == "POSIX" and fields[5] == dev:
                return int(fields[4])
    return None


class Raw:
    """A raw POP3 client: command() sends a line and reads one reply line;
    multiline() reads up to the terminating dot."""

    def __init__(self, inst, service, tls=False, certs=None, timeout=10):
        self.sock = socket.create_connection(
            ("127.0.0.1", inst.port(service)), timeout=timeout)
        self.certs = certs
        if tls:
            self._wrap()
        self.file = self.sock.makefile("rb")
        self.greeting = self.readline()

    def _wrap(self):
        ctx = ssl.create_default_context(cafile=self.certs["ca"])
        self.sock = ssl_wrap(ctx, self.sock)

    def stls(self):
        reply = self.command("STLS")
        assert reply.startswith(b"+OK"), reply
        self.file.close()
        self._wrap()
        self.file = self.sock.makefile("rb")
        return reply

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data + b"\r\n")

    def readline(self):
        return self.file.readline(1 << 20).rstrip(b"\r\n")

    def command(self, line):
        self.send(line)
        return self.readline()

    def multiline(self):
        lines = []
        while True:
            line = self.file.readline(1 << 20)
            assert line, "EOF in a multi-line response: %r" % lines
            if line == b".\r\n":
                return lines
            lines.append(line)

    def eof(self):
        try:
            return self.file.readline() == b""
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        try:
            self.file.close()
        finally:
            self.sock.close()


def ssl_wrap(ctx, sock):
    return ctx.wrap_socket(sock, server_hostname="localhost")
