"""proxyd behind a load balancer: on a listener with proxy_protocol = yes
each connection starts with a PROXY header (v2 or v1) from
proxy_trusted_networks, read exactly (an implicit-TLS handshake follows
it untouched); its source is the client for the proxy's logs, limits and
the stores.  Anyone else is dropped without a word."""

import socket
import ssl

import pytest

import harness
import proxydutil
from proxydutil import Env, PASSWORD
from test_proxy_trust import proxy_v1, proxy_v2

LB = proxydutil.CLIENT_ADDR       # the load balancer connects from here


@pytest.fixture
def env(make_instance):
    services = [
        harness.Service("imapl", "proxyd/proxyd", maxproc=2, options={
            "proxy_front": "imap", "proxy_protocol": "yes",
            "auth_allow_plaintext": "yes"}),
        harness.Service("imapsl", "proxyd/proxyd", maxproc=2, options={
            "proxy_front": "imap", "proxy_protocol": "yes",
            "tls_wrapper_mode": "yes"}),
    ]
    return Env(make_instance, services=services,
               proxy_params={"proxy_trusted_networks": LB + "/32"},
               store_params={"proxy_trusted_networks": "127.0.0.1/32"})


def connect(env, service, source=LB):
    return socket.create_connection(("127.0.0.1", env.proxy.port(service)),
                                    timeout=10, source_address=(source, 0))


def login(sock, user):
    r = proxydutil.Raw.__new__(proxydutil.Raw)
    r.sock, r.buf = sock, b""
    assert r.line().startswith("* OK")
    r.send("a1 LOGIN %s %s\r\n" % (user, PASSWORD))
    assert r.until("a1 ")[-1].startswith("a1 OK")
    r.send("a2 LOGOUT\r\n")
    r.until("a2 ")
    r.close()


@pytest.mark.parametrize("header", [proxy_v2, proxy_v1])
def test_header_names_the_client(env, header):
    s = connect(env, "imapl")
    s.sendall(header("203.0.113.7", 4711, "127.0.0.1",
                     env.proxy.port("imapl")))
    login(s, env.alice)
    env.proxy.wait_for_log(r"proxy: connection from 203\.0\.113\.7\[4711\] "
                           r"via 127\.0\.0\.9")
    env.proxy.wait_for_log(r"user=%s client=203\.0\.113\.7 backend="
                           % env.alice)
    env.store_a.wait_for_log(r"login user=%s method=plain "
                             r"client=203\.0\.113\.7" % env.alice)


def test_header_before_implicit_tls(env):
    s = connect(env, "imapsl")
    s.sendall(proxy_v2("203.0.113.8", 4712, "127.0.0.1",
                       env.proxy.port("imapsl")))
    s = env.ssl_context().wrap_socket(s, server_hostname="localhost")
    login(s, env.bob)
    env.store_b.wait_for_log(r"login user=%s method=plain "
                             r"client=203\.0\.113\.8" % env.bob)


def test_untrusted_peer_and_garbage_are_dropped(env):
    for source, data in (("127.0.0.1", proxy_v2("203.0.113.9", 1, "1.2.3.4",
                                                 143)),
                         (LB, b"GET / HTTP/1.0\r\n\r\n")):
        s = connect(env, "imapl", source)
        s.sendall(data)
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError:
            pass
        s.close()
        assert got == b"", got
    env.proxy.wait_for_log(r"refused connection from 127\.0\.0\.1\[\d+\] "
                           r"to service imapl: not in proxy_trusted_networks")
    env.proxy.wait_for_log(r"dropped connection from 127\.0\.0\.9\[\d+\] "
                           r"to service imapl")
