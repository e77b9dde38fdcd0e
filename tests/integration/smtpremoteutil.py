"""Remote MTAs for the smtp agent's SMTP-mode tests: a small threaded
ESMTP server on any loopback address (Linux routes all of 127/8 to lo),
with the extensions a test asks for, STARTTLS with a test certificate,
per-recipient replies, and a record of every session and message (the
client's address, EHLO name, TLS and SNI, MAIL/RCPT parameters, data).

Python 3.12 has no smtpd module; this one is sockets and threads only.
Also: an instance with the whole outbound path (smtpd, qmgr, the agents
smtp and smtp-CLASS, lmtpd for bounces), and a submission client."""

import smtplib
import socket
import ssl
import threading
import time

import harness
import mailutil
import tlsutil

DEFAULT_CAPS = ("PIPELINING", "8BITMIME", "SIZE 10240000", "DSN",
                "SMTPUTF8", "ENHANCEDSTATUSCODES")


def free_port_on(hosts):
    """A TCP port that is free on every address in hosts."""
    for _ in range(100):
        port = harness.free_port(host=hosts[0])
        ok = True
        for host in hosts[1:]:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind((host, port))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no port free on all of %r" % (hosts,))


class Session:
    def __init__(self, client):
        self.client = client            # (address, port)
        self.helo = None
        self.tls = None                 # TLS version after STARTTLS
        self.sni = None
        self.commands = []


class Message:
    def __init__(self, session, mail, rcpts, data):
        self.session = session
        self.client = session.client[0]
        self.mail = mail                # "FROM:<a> SIZE=..." as sent
        self.rcpts = rcpts              # ["TO:<b> NOTIFY=..."], accepted
        self.data = data                # bytes, dot-stuffing undone

    def rcpt_addresses(self):
        return [r.split(">", 1)[0].split("<", 1)[1] for r in self.rcpts]


class RemoteMTA:
    """ESMTP server on host:port.  rcpt_reply(address, mta) returns the
    reply line for RCPT TO (default 250); greeting is the first line;
    certs (tlsutil paths) turns STARTTLS on."""

    def __init__(self, host, port, name="mx.remote.test",
                 caps=DEFAULT_CAPS, greeting=None, certs=None,
                 rcpt_reply=None, data_reply="250 2.0.0 Ok: queued",
                 ehlo=True, broken_tls=False):
        self.host = host
        self.port = port
        self.name = name
        self.caps = list(caps)
        self.greeting = greeting or "220 %s ESMTP test" % name
        self.certs = certs
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.ehlo = ehlo                # False: EHLO is refused (HELO only)
        self.broken_tls = broken_tls    # STARTTLS, then no TLS at all
        self.sessions = []
        self.messages = []
        self.lock = threading.Lock()
        self.sock = None
        self.stopping = False

    def start(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((self.host, self.port))
        self.sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        self.stopping = True
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()

    def _accept(self):
        while not self.stopping:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, addr),
                             daemon=True).start()

    def _tls_context(self, session):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.certs["cert"], self.certs["key"])

        def sni(_sock, name, _ctx):
            session.sni = name
        ctx.sni_callback = sni
        return ctx

    def _serve(self, conn, addr):
        session = Session(addr)
        with self.lock:
            self.sessions.append(session)
        conn.settimeout(20)
        f = conn.makefile("rb")

        def say(line):
            conn.sendall(line.encode() + b"\r\n")

        try:
            say(self.greeting)
            if not self.greeting.startswith("2"):
                # A refusing server still waits for QUIT (RFC 5321 3.1).
                line = f.readline()
                if line:
                    say("221 2.0.0 Bye")
                return
            mail, rcpts = None, []
            while True:
                line = f.readline()
                if not line:
                    return
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                session.commands.append(text)
                verb = text.split(" ", 1)[0].upper()
                arg = text[len(verb):].strip()
                if verb == "EHLO" and not self.ehlo:
                    say("502 5.5.2 Command not recognized")
                elif verb == "EHLO":
                    session.helo = arg
                    caps = list(self.caps)
                    if self.certs is not None and session.tls is None:
                        caps.append("STARTTLS")
                    lines = [self.name] + caps
                    for i, cap in enumerate(lines):
                        sep = " " if i == len(lines) - 1 else "-"
                        say("250%s%s" % (sep, cap))
                elif verb == "HELO":
                    session.helo = arg
                    say("250 %s" % self.name)
                elif verb == "STARTTLS" and self.certs is not None:
                    say("220 2.0.0 Ready to start TLS")
                    if self.broken_tls:
                        conn.sendall(b"this is not a TLS handshake\r\n")
                        return
                    try:
                        conn = self._tls_context(session).wrap_socket(
                            conn, server_side=True)
                    except (ssl.SSLError, OSError):
                        return
                    session.tls = conn.version()
                    f = conn.makefile("rb")
                    mail, rcpts = None, []
                elif verb == "MAIL":
                    mail, rcpts = arg, []
                    say("250 2.1.0 Ok")
                elif verb == "RCPT":
                    if mail is None:
                        say("503 5.5.1 Need MAIL")
                        continue
                    address = arg.split(">", 1)[0].split("<", 1)[-1]
                    reply = "250 2.1.5 Ok"
                    if self.rcpt_reply is not None:
                        reply = self.rcpt_reply(address, self) or reply
                    if reply.startswith("2"):
                        rcpts.append(arg)
                    say(reply)
                elif verb == "DATA":
                    if not rcpts:
                        say("554 5.5.1 No valid recipients")
                        continue
                    say("354 End data with <CR><LF>.<CR><LF>")
                    data = []
                    while True:
                        line = f.readline()
                        if not line:
                            return
                        if line == b".\r\n":
                            break
                        if line.startswith(b"."):
                            line = line[1:]
                        data.append(line)
                    with self.lock:
                        self.messages.append(
                            Message(session, mail, rcpts, b"".join(data)))
                    say(self.data_reply)
                    mail, rcpts = None, []
                elif verb == "RSET":
                    mail, rcpts = None, []
                    say("250 2.0.0 Ok")
                elif verb == "NOOP":
                    say("250 2.0.0 Ok")
                elif verb == "QUIT":
                    say("221 2.0.0 Bye")
                    return
                else:
                    say("502 5.5.2 Command not recognized")
        except (OSError, ssl.SSLError):
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def wait_messages(self, count, timeout=20.0, inst=None):
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            if time.monotonic() > deadline:
                raise AssertionError(
                    "%s:%d got %d messages, expected %d%s" % (
                        self.host, self.port, len(self.messages), count,
                        "\nlog:\n" + inst.log()[-5000:] if inst else ""))
            time.sleep(0.05)


# -- the outbound path --------------------------------------------------------

def outbound_services(lmtp_port, classes=None, maxproc=4, agent_options=None):
    """smtpd (mx, submission), qmgr, the LMTP agent and lmtpd (bounces
    come home), the SMTP agent on private/smtp and one agent service
    private/smtp-CLASS per entry of classes ({class: -o options})."""
    services = mailutil.delivery_services(lmtp_port, maxproc=maxproc)
    services.append(harness.Service(
        "smtp-out", "smtp/smtp", type="unix", listen="private/smtp",
        maxproc=maxproc, options=agent_options))
    for name, options in (classes or {}).items():
        services.append(harness.Service(
            "smtp-" + name, "smtp/smtp", type="unix",
            listen="private/smtp-" + name, maxproc=maxproc,
            options=options))
    return services


def start_outbound(make_instance, dns_address, port, params,
                   extra_services=()):
    """An instance with the outbound path (and extra_services),
    resolving through dns_address, remote MTAs on port, each request
    looking its MX hosts up afresh, params on top; started."""
    certs = tlsutil.make_certs()
    lmtp_port = harness.free_port()
    inst = make_instance(services=outbound_services(lmtp_port) +
                         list(extra_services))
    inst.params.update(mailutil.delivery_params(inst, certs, lmtp_port))
    inst.params.update({
        "dns_servers": dns_address,
        "dns_timeout": "1s",
        "dns_tries": "2",
        "smtp_port": str(port),
        "smtp_connection_cache_time": "0",
    })
    inst.params.update(params)
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.certs = certs
    inst.start()
    return inst


def assert_no_sanitizer_reports(inst):
    """The ASan/UBSan build reports to the instance log: none allowed."""
    log = inst.log()
    for marker in ("runtime error:", "AddressSanitizer", "LeakSanitizer"):
        assert marker not in log, log[log.index(marker) - 2000:][:6000]


def submit(inst, rcpts, body, user="alice@example.test", sender=None,
           mail_options=(), rcpt_options=None):
    """Submission with STARTTLS and AUTH as user; returns the queue id."""
    s = smtplib.SMTP("127.0.0.1", inst.port("submission"), timeout=10)
    s.ehlo("client.test")
    s.starttls(context=tlsutil.client_context(inst.certs))
    s.ehlo("client.test")
    code, _ = s.login(user, mailutil.PASSWORD)
    assert code == 235
    code, text = s.mail(sender or user, list(mail_options))
    assert code == 250, text
    for r in rcpts:
        opts = (rcpt_options or {}).get(r, [])
        code, text = s.rcpt(r, opts)
        assert code == 250, (r, code, text)
    if isinstance(body, str):
        body = body.encode()
    code, text = s.data(body)
    assert code == 250, text
    s.quit()
    return text.split()[-1].decode()
