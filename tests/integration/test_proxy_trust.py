"""The real client behind a proxy (proxy_trust.h): PROXY protocol headers
(built here, independently of common/net/haproxy.c) to smtpd, popd and
imapd on listeners with proxy_protocol=yes, XCLIENT to smtpd with swaks,
popd XCLIENT with poplib, imapd ID x-originating-ip with imaplib; each
believed from proxy_trusted_networks only."""

import imaplib
import os
import poplib
import re
import smtplib
import socket
import struct
import subprocess
import uuid

import pytest

import harness
import mailutil
import tlsutil
from mailutil import PASSWORD

SMTPD, POPD, IMAPD = "smtpd/smtpd", "popd/popd", "imapd/imapd"
# Every listener with "u" at the end trusts only a network we are not in.
UNTRUSTED = {"proxy_trusted_networks": "192.0.2.0/24"}
PLAIN = {"auth_allow_plaintext": "yes"}

# RFC 2971 ID, in every state (imaplib does not know it).
imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v2(src, sport, dst="198.51.100.1", dport=25, command=0x21):
    """A PROXY protocol v2 header (proxy-protocol.txt section 2.2)."""
    family = socket.AF_INET6 if ":" in src else socket.AF_INET
    body = (socket.inet_pton(family, src) + socket.inet_pton(family, dst)
            + struct.pack("!HH", sport, dport))
    fam = 0x21 if family == socket.AF_INET6 else 0x11
    return (V2_SIGNATURE + bytes([command, fam])
            + struct.pack("!H", len(body)) + body)


def proxy_v1(src, sport, dst, dport):
    proto = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (proto, src, dst, sport,
                                          dport)).encode()


def services():
    S = harness.Service
    return [
        S("smtp", SMTPD, maxproc=2, options={"smtpd_mode": "mx"}),
        S("smtpp", SMTPD, maxproc=3,
          options={"smtpd_mode": "mx", "proxy_protocol": "yes"}),
        S("smtpu", SMTPD, maxproc=2,
          options=dict(UNTRUSTED, smtpd_mode="mx", proxy_protocol="yes")),
        S("submission", SMTPD, maxproc=2,
          options={"smtpd_mode": "submission"}),
        S("subu", SMTPD, maxproc=2,
          options=dict(UNTRUSTED, smtpd_mode="submission")),
        S("pop3", POPD, maxproc=2, options=PLAIN),
        S("pop3p", POPD, maxproc=4,
          options=dict(PLAIN, proxy_protocol="yes",
                       pop_client_connection_count_limit="1")),
        S("pop3u", POPD, maxproc=2, options=dict(PLAIN, **UNTRUSTED)),
        S("imap", IMAPD, maxproc=2, options=PLAIN),
        S("imapp", IMAPD, maxproc=2, options=dict(PLAIN, proxy_protocol="yes")),
        # Several sessions a process: the header is read through the
        # stream waiter (imap_multi.h).
        S("imapm", IMAPD, maxproc=1,
          options=dict(PLAIN, proxy_protocol="yes", imap_client_limit="4")),
        S("imapu", IMAPD, maxproc=2, options=dict(PLAIN, **UNTRUSTED)),
        # The header comes before the TLS handshake: not a byte more may
        # be read by the header reader.
        S("imapsp", IMAPD, maxproc=2,
          options={"tls_wrapper_mode": "yes", "proxy_protocol": "yes"}),
        S("smtpsp", SMTPD, maxproc=2,
          options={"smtpd_mode": "submission", "tls_wrapper_mode": "yes",
                   "proxy_protocol": "yes"}),
    ]


@pytest.fixture(scope="module")
def shared():
    inst = harness.Instance(services(), name="ispmail-proxy-trust")
    certs = tlsutil.make_certs()
    try:
        inst.certs = certs
        inst.params.update({
            "tls_cert_file": certs["cert"],
            "tls_key_file": certs["key"],
            "route_backend": "file",
            "route_file_check_interval": "0",
            "store_owner": harness.current_user(),
            "myhostname": "mx.example.test",
            "auth_failure_delay": "0",
            "auth_failure_limit": "2",
            "proxy_trusted_networks": "127.0.0.0/8",
        })
        inst.write_main_conf()
        mailutil.provision(inst)
        inst.start()
        yield inst
    finally:
        inst.close()


@pytest.fixture
def inst(shared, request):
    request.node._ispmail_instances = [shared]
    return shared


def queued(inst, marker):
    """The queue file whose message holds marker."""
    found = [q for q in map(mailutil.read_queue_file,
                            mailutil.queue_files(inst))
             if marker.encode() in q["message"]]
    assert len(found) == 1, found
    return found[0]


def message(marker):
    return ("From: alice@example.test\r\nSubject: %s\r\n\r\nbody\r\n"
            % marker)


class ProxiedSMTP(smtplib.SMTP):
    """smtplib that sends a PROXY header before anything else."""

    def __init__(self, header, *args, **kwargs):
        self.header = header
        super().__init__(*args, **kwargs)

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((host, port), timeout)
        sock.sendall(self.header)
        return sock


class HeaderFirst:
    """Mixin for poplib and imaplib: a PROXY header before anything."""

    def __init__(self, header, *args, **kwargs):
        self.header = header
        super().__init__(*args, **kwargs)

    def _create_socket(self, timeout):
        sock = super()._create_socket(timeout)
        sock.sendall(self.header)
        return sock


class ProxiedPOP3(HeaderFirst, poplib.POP3):
    pass


class ProxiedIMAP4(HeaderFirst, imaplib.IMAP4):
    pass


def closed_without_a_word(inst, service, data):
    """Send data; the server must close without sending anything."""
    sock = socket.create_connection(("127.0.0.1", inst.port(service)),
                                    timeout=10)
    try:
        sock.sendall(data)
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    finally:
        sock.close()


# -- PROXY protocol headers ---------------------------------------------------

@pytest.mark.parametrize("header,client", [
    (proxy_v2("203.0.113.7", 40000), "203.0.113.7"),
    (proxy_v1("2001:db8::7", 40001, "2001:db8::1", 25), "2001:db8::7"),
])
def test_smtpd_header_names_the_client(inst, header, client):
    marker = uuid.uuid4().hex
    with ProxiedSMTP(header, "127.0.0.1", inst.port("smtpp"),
                     timeout=10) as s:
        s.sendmail("sender@remote.test", ["bob@example.test"],
                   message(marker))
    q = queued(inst, marker)
    received, _ = mailutil.split_received(q["message"])
    assert b"(unknown [%s])" % client.encode() in received, received
    assert q["client_addr"] == client, q
    port = 40000 if "." in client else 40001
    inst.wait_for_log(r"smtpd\[\d+\]: connect from %s\[%d\]"
                      % (re.escape(client), port))
    inst.wait_for_log(r"proxy: connection from %s\[%d\] via 127\.0\.0\.1"
                      % (re.escape(client), port))


def test_local_header_keeps_the_proxy_address(inst):
    marker = uuid.uuid4().hex
    header = V2_SIGNATURE + b"\x20\x00\x00\x00"
    with ProxiedSMTP(header, "127.0.0.1", inst.port("smtpp"),
                     timeout=10) as s:
        s.sendmail("sender@remote.test", ["bob@example.test"],
                   message(marker))
    assert queued(inst, marker)["client_addr"] == "127.0.0.1"


def test_header_from_an_untrusted_peer_is_refused(inst):
    assert closed_without_a_word(inst, "smtpu",
                                 proxy_v2("203.0.113.8", 1000))
    inst.wait_for_log(r"warning: proxy: refused connection from "
                      r"127\.0\.0\.1\[\d+\] to service smtpu: not in "
                      r"proxy_trusted_networks")
    assert "203.0.113.8" not in inst.log()


@pytest.mark.parametrize("service", ["smtpp", "pop3p", "imapp", "imapm"])
def test_garbage_instead_of_a_header_is_dropped(inst, service):
    assert closed_without_a_word(inst, service, b"EHLO garbage.test\r\n")
    inst.wait_for_log(r"warning: proxy: dropped connection from "
                      r"127\.0\.0\.1\[\d+\] to service %s: not a PROXY "
                      r"protocol header" % service)
    # A v2 header that claims more than the 536 bytes we take.
    assert closed_without_a_word(
        inst, service, V2_SIGNATURE + b"\x21\x11\x04\x00" + b"x" * 64)
    inst.wait_for_log(r"to service %s: PROXY header too long" % service)


def test_listener_without_the_switch_takes_a_header_as_garbage(inst):
    sock = socket.create_connection(("127.0.0.1", inst.port("smtp")),
                                    timeout=10)
    try:
        f = sock.makefile("rb")
        assert f.readline().startswith(b"220 ")
        sock.sendall(proxy_v1("203.0.113.9", 5, "198.51.100.1", 25))
        reply = f.readline()
        assert reply.startswith(b"5"), reply
    finally:
        sock.close()
    assert "203.0.113.9" not in inst.log()


def test_popd_header_names_the_client_for_logins_and_limits(inst):
    port = inst.port("pop3p")
    p = ProxiedPOP3(proxy_v2("203.0.113.11", 41000, dport=110),
                    "127.0.0.1", port, timeout=10)
    try:
        p.user("alice@example.test")
        with pytest.raises(poplib.error_proto):
            p.pass_("wrong")
        inst.wait_for_log(r"authentication failed for alice@example\.test "
                          r"from 203\.0\.113\.11: invalid credentials")
        # The per-address connection limit (1) counts the header's
        # client: a second connection from it is refused...
        with pytest.raises(poplib.error_proto) as e:
            ProxiedPOP3(proxy_v2("203.0.113.11", 41001, dport=110),
                        "127.0.0.1", port, timeout=10)
        assert b"Too many connections from 203.0.113.11" in e.value.args[0]
        # ... while another client behind the same proxy is not.
        other = ProxiedPOP3(proxy_v2("203.0.113.12", 41002, dport=110),
                            "127.0.0.1", port, timeout=10)
        other.user("alice@example.test")
        other.pass_(PASSWORD)
        other.quit()
    finally:
        p.close()
    inst.wait_for_log(r"login alice@example\.test from 203\.0\.113\.12")
    # The failure limit (2) ends the session of the header's client.
    p = ProxiedPOP3(proxy_v2("203.0.113.13", 41003, dport=110),
                    "127.0.0.1", port, timeout=10)
    try:
        for _ in range(2):
            p.user("alice@example.test")
            with pytest.raises(poplib.error_proto) as e:
                p.pass_("wrong")
        assert b"too many failures" in e.value.args[0]
    finally:
        p.close()
    assert len(re.findall(r"authentication failed for alice@example\.test "
                          r"from 203\.0\.113\.13", inst.log())) == 2


@pytest.mark.parametrize("service", ["imapp", "imapm"])
def test_imapd_header_names_the_client(inst, service):
    src = "203.0.113.%d" % (20 if service == "imapp" else 21)
    m = ProxiedIMAP4(proxy_v2(src, 42000, dport=143), "127.0.0.1",
                     inst.port(service), timeout=10)
    try:
        with pytest.raises(imaplib.IMAP4.error):
            m.login("alice@example.test", "wrong")
        typ, _ = m.login("alice@example.test", PASSWORD)
        assert typ == "OK"
    finally:
        m.logout()
    inst.wait_for_log(r"login failed user=alice@example\.test method=login "
                      r"client=%s: invalid credentials" % re.escape(src))
    inst.wait_for_log(r"login user=alice@example\.test method=login "
                      r"client=%s" % re.escape(src))


# -- smtpd XCLIENT --------------------------------------------------------------

def swaks(inst, service, *args):
    return subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(inst.port(service)),
         "--timeout", "10", "--from", "alice@example.test",
         "--to", "bob@example.test"] + list(args),
        capture_output=True, text=True, timeout=60)


def test_xclient_login_submits_as_that_user(inst):
    marker = uuid.uuid4().hex
    r = swaks(inst, "submission", "--xclient-addr", "203.0.113.30",
              "--xclient-port", "5555", "--xclient-login",
              "alice@example.test", "--xclient-name", "client.remote.test",
              "--header", "Subject: " + marker)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^<- +250-XCLIENT ADDR PORT NAME HELO PROTO LOGIN$",
                     r.stdout, re.M), r.stdout
    q = queued(inst, marker)
    received, _ = mailutil.split_received(q["message"])
    assert re.match(rb"Received: from \S+ \(client\.remote\.test "
                    rb"\[203\.0\.113\.30\]\)\r\n\tby mx\.example\.test "
                    rb"\(ispmail\) with ESMTPA id ", received), received
    assert q["auth_user"] == "alice@example.test", q
    assert q["client_addr"] == "203.0.113.30", q
    inst.wait_for_log(r"XCLIENT from 127\.0\.0\.1: "
                      r"client=203\.0\.113\.30\[5555\] "
                      r"name=client\.remote\.test login=alice@example\.test")


def test_xclient_from_an_untrusted_peer_is_unknown(inst):
    r = swaks(inst, "subu", "--xclient-addr", "203.0.113.31",
              "--xclient-login", "alice@example.test")
    assert r.returncode != 0, r.stdout
    assert "250-XCLIENT" not in r.stdout
    assert "did not advertise XCLIENT" in r.stderr, r.stderr
    # Sent anyway, it is an unknown command, as it was before.
    s = smtplib.SMTP("127.0.0.1", inst.port("subu"), timeout=10)
    try:
        s.ehlo("proxy.test")
        code, text = s.docmd("XCLIENT", "ADDR=203.0.113.31 "
                             "LOGIN=alice@example.test")
        assert (code, text) == (502, b"5.5.2 Error: command not "
                                b"recognized"), (code, text)
        assert s.docmd("MAIL", "FROM:<alice@example.test>")[0] == 530
    finally:
        s.close()
    inst.wait_for_log(r"reject: XCLIENT from 127\.0\.0\.1: not in "
                      r"proxy_trusted_networks")
    assert "203.0.113.31" not in inst.log()


def test_xclient_bad_input(inst):
    s = smtplib.SMTP("127.0.0.1", inst.port("submission"), timeout=10)
    try:
        s.ehlo("proxy.test")
        for args, code in (("", 501), ("ADDR=1.2.3", 501),
                           ("ADDR=203.0.113.1 ADDR=203.0.113.2", 501),
                           ("PORT=70000", 501), ("FOO=bar", 501),
                           ("LOGIN=a+0Ab", 501), ("NAME=bad_name!", 501),
                           ("PROTO=LMTP", 501), ("ADDR", 501)):
            assert s.docmd("XCLIENT", args)[0] == code, args
        # Nothing changed: still the proxy, still not logged in.
        assert s.docmd("MAIL", "FROM:<alice@example.test>")[0] == 530
        # [UNAVAILABLE] leaves an attribute alone; IPv6 with its prefix.
        code, text = s.docmd("XCLIENT", "NAME=[UNAVAILABLE] "
                             "ADDR=IPV6:2001:db8::31 LOGIN=bob@example.test")
        assert code == 220, text
        s.ehlo("proxy.test")
        assert s.docmd("MAIL", "FROM:<bob@example.test>")[0] == 250
        # Not inside a transaction.
        assert s.docmd("XCLIENT", "ADDR=203.0.113.32")[0] == 503
    finally:
        s.close()
    inst.wait_for_log(r"XCLIENT from 127\.0\.0\.1: client=2001:db8::31\[\d+\] "
                      r"login=bob@example\.test")


# -- popd XCLIENT and imapd ID -----------------------------------------------

def test_popd_xclient(inst):
    p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    try:
        assert "XCLIENT" in p.capa()
        with pytest.raises(poplib.error_proto) as e:
            p._shortcmd("XCLIENT ADDR=bad")
        assert e.value.args[0] == b"-ERR Invalid XCLIENT parameter"
        assert p._shortcmd("XCLIENT ADDR=203.0.113.40 PORT=4040 "
                           "SESSION=x").startswith(b"+OK")
        p.user("alice@example.test")
        with pytest.raises(poplib.error_proto):
            p.pass_("wrong")
    finally:
        p.close()
    inst.wait_for_log(r"XCLIENT from 127\.0\.0\.1: "
                      r"client=203\.0\.113\.40\[4040\]")
    inst.wait_for_log(r"authentication failed for alice@example\.test "
                      r"from 203\.0\.113\.40")
    p = poplib.POP3("127.0.0.1", inst.port("pop3u"), timeout=10)
    try:
        assert "XCLIENT" not in p.capa()
        with pytest.raises(poplib.error_proto) as e:
            p._shortcmd("XCLIENT ADDR=203.0.113.41")
        assert e.value.args[0] == b"-ERR Unknown command"
    finally:
        p.close()
    assert "203.0.113.41" not in inst.log()


def id_command(m, fields):
    args = " ".join('"%s" "%s"' % pair for pair in fields)
    return m.xatom("ID", "(%s)" % args)


def test_imapd_id_x_originating_ip(inst):
    m = imaplib.IMAP4("127.0.0.1", inst.port("imap"), timeout=10)
    try:
        typ, _ = id_command(m, [("name", "proxyd"),
                                ("x-originating-ip", "203.0.113.50"),
                                ("x-originating-port", "5050")])
        assert typ == "OK"
        with pytest.raises(imaplib.IMAP4.error):
            m.login("alice@example.test", "wrong")
    finally:
        m.shutdown()
    inst.wait_for_log(r"ID from 127\.0\.0\.1: client=203\.0\.113\.50\[5050\]")
    inst.wait_for_log(r"login failed user=alice@example\.test method=login "
                      r"client=203\.0\.113\.50")
    # From an untrusted peer, or a bad value: ignored, ID still answered.
    for service, fields, why in (
            ("imapu", [("x-originating-ip", "203.0.113.51")],
             "not in proxy_trusted_networks"),
            ("imap", [("x-originating-ip", "203.0.113.999")],
             "invalid value")):
        m = imaplib.IMAP4("127.0.0.1", inst.port(service), timeout=10)
        try:
            assert id_command(m, fields)[0] == "OK"
            with pytest.raises(imaplib.IMAP4.error):
                m.login("alice@example.test", "wrong")
        finally:
            m.shutdown()
        inst.wait_for_log(r"ID from 127\.0\.0\.1: x-originating fields "
                          r"ignored: %s" % why)
    assert "client=203.0.113.51" not in inst.log()
    # After login the fields change nothing.
    m = imaplib.IMAP4("127.0.0.1", inst.port("imap"), timeout=10)
    try:
        m.login("alice@example.test", PASSWORD)
        assert id_command(m, [("x-originating-ip", "203.0.113.52")])[0] \
            == "OK"
    finally:
        m.logout()
    inst.wait_for_log(r"x-originating fields ignored: after login")


def test_header_before_implicit_tls(inst):
    """The header reader stops at the header's end: the TLS handshake
    that follows in the same packet is the daemon's."""
    ctx = tlsutil.client_context(inst.certs)
    for service, src, banner in (("imapsp", "203.0.113.60", b"* OK"),
                                 ("smtpsp", "203.0.113.61", b"220 ")):
        sock = socket.create_connection(("127.0.0.1", inst.port(service)),
                                        timeout=10)
        try:
            sock.sendall(proxy_v2(src, 6000, dport=993))
            tls = ctx.wrap_socket(sock, server_hostname="localhost")
            assert tls.recv(1024).startswith(banner)
            tls.close()
        finally:
            sock.close()
        inst.wait_for_log(r"connect from %s\[6000\]" % re.escape(src))
