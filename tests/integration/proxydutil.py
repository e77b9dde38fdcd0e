"""Helpers for proxyd's integration tests: two store instances (each its
own master with imapd and popd, its own store and routes) on two loopback
addresses with the same ports, and a proxy instance with proxyd whose
routing directory sends each user to their store (mail host = the store's
address).  Messages are written into a store the way lmtpd writes them."""

import imaplib
import os
import poplib
import socket
import ssl
import time

import harness
import tlsutil

PASSWORD = "proxy-secret"
STORE_A = "127.0.0.2"
STORE_B = "127.0.0.3"
# Nothing listens here: a dead first host of a pair.
DEAD_HOST = "127.0.0.4"
# Tests connect from here, so the stores' logs can tell the client's
# address from the proxy's (127.0.0.1).
CLIENT_ADDR = "127.0.0.9"

_counter = [0]


def common_params():
    return {
        "route_backend": "file",
        "route_file_check_interval": "0",
        "store_owner": harness.current_user() if os.geteuid() != 0
        else "nobody",
        "auth_failure_delay": "0",
    }


def ports_free_on(addresses, tries=50):
    """A TCP port free on every address (the stores share ports)."""
    for _ in range(tries):
        port = harness.free_port(host=addresses[0])
        ok = True
        for addr in addresses[1:]:
            s = socket.socket()
            try:
                s.bind((addr, port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return port
    raise RuntimeError("no port free on %s" % (addresses,))


def ctl(inst, *args, input=None):
    r = inst.ctl(*args, input=input)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def add_users(inst, users):
    """users: {address: mail host}; every password is PASSWORD."""
    routes = os.path.join(inst.config_dir, "routes")
    if not os.path.exists(routes):
        open(routes, "w").close()
        ctl(inst, "domain", "add", "example.test")
    for address, host in users.items():
        ctl(inst, "mailbox", "add", address, "host=" + host,
            "--password-stdin", input=PASSWORD + "\n")


def make_store(make_instance, address, ports, users, extra_params=None,
               options=None):
    """A store host on address: imapd and popd on ports["imap"],
    ports["pop3"]; users: their addresses.  Plaintext logins are allowed
    (the proxy speaks to it on the private network)."""
    p = common_params()
    p["auth_allow_plaintext"] = "yes"
    p.update(extra_params or {})
    inst = make_instance(services=[
        harness.Service("imap", "imapd/imapd", maxproc=8,
                        listen="%s:%d" % (address, ports["imap"]),
                        options=options),
        harness.Service("pop3", "popd/popd", maxproc=8,
                        listen="%s:%d" % (address, ports["pop3"]),
                        options=options),
    ], params=p, name="store-" + address)
    inst.write_main_conf()
    add_users(inst, {u: "localhost" for u in users})
    inst.start()
    return inst


def proxy_services(extra_options=None):
    """imap (143, STARTTLS), imaps (993), imapp (plaintext allowed), and
    the same for POP3: pop3, pop3s, pop3p."""
    opts = dict(extra_options or {})

    def svc(name, **o):
        o.update(opts)
        return harness.Service(name, "proxyd/proxyd", maxproc=2, options=o)
    return [
        svc("imap", proxy_front="imap"),
        svc("imaps", proxy_front="imap", tls_wrapper_mode="yes"),
        svc("imapp", proxy_front="imap", auth_allow_plaintext="yes"),
        svc("pop3", proxy_front="pop3"),
        svc("pop3s", proxy_front="pop3", tls_wrapper_mode="yes"),
        svc("pop3p", proxy_front="pop3", auth_allow_plaintext="yes"),
    ]


def make_proxy(make_instance, users, ports, extra_params=None,
               services=None):
    """The proxy: users {address: mail host}."""
    certs = tlsutil.make_certs()
    p = common_params()
    p.update({
        "tls_cert_file": certs["cert"],
        "tls_key_file": certs["key"],
        "proxy_backend_port_imap": str(ports["imap"]),
        "proxy_backend_port_pop3": str(ports["pop3"]),
    })
    p.update(extra_params or {})
    inst = make_instance(services=services or proxy_services(), params=p,
                         name="proxy")
    inst.write_main_conf()
    add_users(inst, users)
    inst.start()
    return inst


class Env:
    """Two stores and a proxy; alice lives on A, bob on B."""

    def __init__(self, make_instance, proxy_params=None, services=None,
                 store_params=None, store_options=None):
        self.ports = {"imap": ports_free_on([STORE_A, STORE_B]),
                      "pop3": ports_free_on([STORE_A, STORE_B])}
        _counter[0] += 1
        n = _counter[0]
        self.alice = "alice%d@example.test" % n
        self.bob = "bob%d@example.test" % n
        self.store_a = make_store(make_instance, STORE_A, self.ports,
                                  [self.alice], store_params, store_options)
        self.store_b = make_store(make_instance, STORE_B, self.ports,
                                  [self.bob], store_params, store_options)
        self.proxy = make_proxy(make_instance, {self.alice: STORE_A,
                                                self.bob: STORE_B},
                                self.ports, proxy_params, services)
        self.certs = tlsutil.make_certs()

    def store_of(self, user):
        return self.store_a if user == self.alice else self.store_b

    def maildir(self, user):
        local, domain = user.split("@")
        return os.path.join(self.store_of(user).store_dir, domain, local)

    def deliver(self, user, subject):
        """Write a message into user's INBOX new/ as lmtpd does."""
        folder = self.maildir(user)
        data = ("From: <x@remote.test>\nTo: <%s>\nSubject: %s\n\nbody\n"
                % (user, subject)).encode()
        _counter[0] += 1
        now = time.time()
        name = "%d.M%dP%dQ%d.proxytest,S=%d" % (
            int(now), int((now % 1) * 1e6), os.getpid(), _counter[0],
            len(data))
        tmp = os.path.join(folder, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.link(tmp, os.path.join(folder, "new", name))
        os.unlink(tmp)

    def ssl_context(self):
        return tlsutil.client_context(self.certs)

    def imaps(self, timeout=20):
        """imaplib over implicit TLS to the proxy, from CLIENT_ADDR."""
        return IMAP4_SSL_From(CLIENT_ADDR, "127.0.0.1",
                              self.proxy.port("imaps"),
                              ssl_context=self.ssl_context(),
                              timeout=timeout)

    def imap(self, service="imap", timeout=20):
        return IMAP4_From(CLIENT_ADDR, "127.0.0.1", self.proxy.port(service),
                          timeout=timeout)

    def pop3s(self, timeout=20):
        """poplib over implicit TLS to the proxy, from CLIENT_ADDR."""
        return POP3_SSL_From(CLIENT_ADDR, "127.0.0.1",
                             self.proxy.port("pop3s"),
                             context=self.ssl_context(), timeout=timeout)

    def pop3(self, service="pop3", timeout=20):
        return POP3_From(CLIENT_ADDR, "127.0.0.1", self.proxy.port(service),
                         timeout=timeout)

    def raw(self, service="imapp", timeout=10):
        return Raw(("127.0.0.1", self.proxy.port(service)), timeout)


class IMAP4_From(imaplib.IMAP4):
    """imaplib.IMAP4 connecting from a given source address."""

    def __init__(self, source, host, port, timeout=None):
        self._source = source
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout=None):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._source, 0))


class IMAP4_SSL_From(imaplib.IMAP4_SSL):
    def __init__(self, source, host, port, ssl_context, timeout=None):
        self._source = source
        super().__init__(host, port, ssl_context=ssl_context,
                         timeout=timeout)

    def _create_socket(self, timeout=None):
        sock = socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._source, 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


class POP3_From(poplib.POP3):
    """poplib.POP3 connecting from a given source address."""

    def __init__(self, source, host, port, timeout=None):
        self._source = source
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._source, 0))


class POP3_SSL_From(poplib.POP3_SSL):
    def __init__(self, source, host, port, context, timeout=None):
        self._source = source
        super().__init__(host, port, context=context, timeout=timeout)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._source, 0))
        return self.context.wrap_socket(sock, server_hostname=self.host)


class Raw:
    """A plain socket speaking lines, for what the client libraries will
    not send."""

    def __init__(self, address, timeout=10):
        self.sock = socket.create_connection(address, timeout=timeout)
        self.buf = b""

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
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("utf-8", "replace")

    def until(self, prefix):
        """Lines up to and including the first starting with prefix."""
        lines = []
        while True:
            lines.append(self.line())
            if lines[-1].startswith(prefix):
                return lines

    def closed(self):
        """True when the server closed the connection (after any data)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def starttls(self, ctx, hostname="localhost"):
        self.sock = ctx.wrap_socket(self.sock, server_hostname=hostname)

    def close(self):
        self.sock.close()


def imap_pids(inst, program="imapd"):
    """The live processes of inst running program."""
    out = []
    for pid in inst.instance_pids():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv0 = f.read().split(b"\0")[0]
        except OSError:
            continue
        if os.path.basename(argv0).decode() == program:
            out.append(pid)
    return out


def read_subjects(c):
    """The Subject: lines of an IMAP connection's INBOX, sorted."""
    typ, data = c.select("INBOX")
    assert typ == "OK", data
    typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK", data
    return sorted(part[1].decode().strip() for part in data
                  if isinstance(part, tuple))


def pss_kib(pid):
    """The process's proportional set size in KiB."""
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError("no Pss in smaps_rollup")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")
