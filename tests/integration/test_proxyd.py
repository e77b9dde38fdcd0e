"""proxyd's IMAP front: two store instances (their own masters, stores and
imapd) on 127.0.0.2 and 127.0.0.3 and one proxy in front; users on each
store read their own mail through the one proxy address, over TLS."""

import imaplib
import signal
import socket
import ssl
import time

import pytest

import harness
import proxydutil
import tlsutil
from proxydutil import Env, PASSWORD, read_subjects


@pytest.fixture
def env(make_instance):
    return Env(make_instance)


def test_users_on_two_stores_read_their_own_mail(env):
    env.deliver(env.alice, "for alice on A")
    env.deliver(env.bob, "for bob on B")
    for user, subject in ((env.alice, "Subject: for alice on A"),
                          (env.bob, "Subject: for bob on B")):
        c = env.imaps()
        typ, data = c.login(user, PASSWORD)
        assert typ == "OK", data
        # The tagged OK is the store's: its capabilities, not ours.
        assert b"CAPABILITY" in data[0] and b"IDLE" in data[0], data
        assert read_subjects(c) == [subject]
        c.logout()
    # Each login reached its own store.
    env.store_a.wait_for_log(r"login user=%s" % env.alice)
    env.store_b.wait_for_log(r"login user=%s" % env.bob)
    assert "user=%s" % env.bob not in env.store_a.log()
    env.proxy.wait_for_log(r"proxy: user=%s client=%s backend=%s relaying"
                           % (env.alice, proxydutil.CLIENT_ADDR,
                              proxydutil.STORE_A))


def test_starttls_logindisabled_and_login(env):
    c = env.imap("imap")
    assert "LOGINDISABLED" in c.capabilities
    assert "STARTTLS" in c.capabilities
    with pytest.raises(imaplib.IMAP4.error) as e:
        c.login(env.bob, PASSWORD)
    assert "PRIVACYREQUIRED" in str(e.value)
    c.starttls(env.ssl_context())
    assert "LOGINDISABLED" not in c.capabilities
    assert "AUTH=PLAIN" in c.capabilities
    typ, data = c.login(env.bob, PASSWORD)
    assert typ == "OK", data
    typ, data = c.noop()
    assert typ == "OK"
    c.logout()


def test_authenticate_plain_sasl_ir_and_login_mechanism(env):
    env.deliver(env.alice, "sasl")
    c = env.imaps()
    typ, data = c.authenticate(
        "PLAIN", lambda _: ("\0%s\0%s" % (env.alice, PASSWORD)).encode())
    assert typ == "OK", data
    assert read_subjects(c) == ["Subject: sasl"]
    c.logout()
    # AUTHENTICATE LOGIN: two challenges.
    answers = iter([env.alice.encode(), PASSWORD.encode()])
    c = env.imaps()
    typ, data = c.authenticate("LOGIN", lambda _: next(answers))
    assert typ == "OK", data
    c.logout()
    # SASL-IR on one line, raw.
    import base64
    r = env.raw("imapp")
    assert r.line().startswith("* OK")
    ir = base64.b64encode(("\0%s\0%s" % (env.bob, PASSWORD)).encode())
    r.send(b"a1 AUTHENTICATE PLAIN " + ir + b"\r\n")
    lines = r.until("a1 ")
    assert lines[-1].startswith("a1 OK"), lines
    r.send("a2 LOGOUT\r\n")
    assert r.until("a2 ")[-1].startswith("a2 OK")
    r.close()


def test_login_with_literal_password(env):
    r = env.raw("imapp")
    r.line()
    r.send("a1 LOGIN {%d}\r\n" % len(env.alice))
    assert r.line().startswith("+")
    r.send("%s {%d}\r\n" % (env.alice, len(PASSWORD)))
    assert r.line().startswith("+")
    r.send(PASSWORD + "\r\n")
    assert r.until("a1 ")[-1].startswith("a1 OK")
    r.close()


def test_wrong_password_is_authentication_failed(env):
    c = env.imaps()
    with pytest.raises(imaplib.IMAP4.error) as e:
        c.login(env.alice, "wrong")
    assert "AUTHENTICATIONFAILED" in str(e.value)
    typ, data = c.login(env.alice, PASSWORD)
    assert typ == "OK"
    c.logout()
    env.proxy.wait_for_log(r"login failed user=%s client=%s"
                           % (env.alice, proxydutil.CLIENT_ADDR))


def test_store_down_gives_unavailable_to_its_users_only(env):
    env.store_a.stop()
    c = env.imaps()
    with pytest.raises(imaplib.IMAP4.error) as e:
        c.login(env.alice, PASSWORD)
    assert "UNAVAILABLE" in str(e.value)
    assert "AUTHENTICATIONFAILED" not in str(e.value)
    c.logout()
    c = env.imaps()
    typ, _ = c.login(env.bob, PASSWORD)
    assert typ == "OK"
    c.logout()
    env.proxy.wait_for_log(r"user=%s client=\S+: no backend of \"%s\" "
                           r"answers" % (env.alice, proxydutil.STORE_A))


def test_two_host_mail_host_fails_over(make_instance):
    e = Env(make_instance)
    pair = "%s,%s" % (proxydutil.DEAD_HOST, proxydutil.STORE_A)
    proxydutil.ctl(e.proxy, "mailbox", "set", e.alice, "host=" + pair)
    e.deliver(e.alice, "failover")
    for _ in range(2):
        c = e.imaps()
        typ, _ = c.login(e.alice, PASSWORD)
        assert typ == "OK"
        assert read_subjects(c) == ["Subject: failover"]
        c.logout()
    e.proxy.wait_for_log(r"backend=%s: .*[Cc]onnection refused"
                         % proxydutil.DEAD_HOST)


def test_backend_killed_during_idle_gives_bye(env):
    r = proxydutil.Raw(("127.0.0.1", env.proxy.port("imaps")))
    r.starttls(env.ssl_context())
    r.line()
    r.send("a1 LOGIN %s %s\r\n" % (env.alice, PASSWORD))
    assert r.until("a1 ")[-1].startswith("a1 OK")
    r.send("a2 SELECT INBOX\r\n")
    assert r.until("a2 ")[-1].startswith("a2 OK")
    r.send("a3 IDLE\r\n")
    assert r.line().startswith("+")
    pids = proxydutil.imap_pids(env.store_a)
    assert pids
    for pid in pids:
        harness.os.kill(pid, signal.SIGKILL)
    line = r.line()
    assert line.startswith("* BYE"), line
    assert r.closed()


def test_compressed_session_gets_no_plaintext_bye(env):
    """After COMPRESS DEFLATE (RFC 4978) the relayed bytes are deflated:
    proxyd can no longer see the backend's BYE and must not add a
    plaintext one of its own, which the client's inflater would read as
    garbage (mbsync printed "unexpected reply").  Both at LOGOUT and
    when the backend dies."""
    import zlib
    for end in ("logout", "kill"):
        r = env.raw("imapp")
        r.line()
        r.send("a1 LOGIN %s %s\r\n" % (env.alice, PASSWORD))
        assert r.until("a1 ")[-1].startswith("a1 OK")
        r.send("a2 COMPRESS DEFLATE\r\n")
        assert r.until("a2 ")[-1].startswith("a2 OK")
        assert r.buf == b""
        inflate = zlib.decompressobj(-15)
        deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION,
                                   zlib.DEFLATED, -15)

        def send(text):
            r.sock.sendall(deflate.compress(text.encode()) +
                           deflate.flush(zlib.Z_SYNC_FLUSH))
        send("a3 NOOP\r\n")
        if end == "logout":
            send("a4 LOGOUT\r\n")
        else:
            wire = b""
            while b"a3 OK" not in inflate.decompress(wire):
                wire = r.sock.recv(65536)
                assert wire
            for pid in proxydutil.imap_pids(env.store_a):
                harness.os.kill(pid, signal.SIGKILL)
        wire = b""
        while True:
            chunk = r.sock.recv(65536)
            if not chunk:
                break
            wire += chunk
        text = inflate.decompress(wire)
        assert inflate.unused_data == b""
        assert b"Backend server closed" not in wire
        if end == "logout":
            assert b"* BYE" in text and b"a4 OK" in text, text
        r.close()


def test_prelogin_bad_input(env):
    r = env.raw("imapp")
    assert r.line().startswith("* OK")
    r.send("a1 " + "x" * 20000 + "\r\n")
    assert "TOOBIG" in r.line()
    r.send("\x00\x01garbage\r\n")
    assert " BAD " in r.line()
    r.send("a2 SELECT INBOX\r\n")
    assert r.line().startswith("a2 BAD")
    # Still in step: a good login works.
    r.send("a3 LOGIN %s %s\r\n" % (env.bob, PASSWORD))
    assert r.until("a3 ")[-1].startswith("a3 OK")
    r.close()
    # The bad command limit (10) ends the session.
    r = env.raw("imapp")
    r.line()
    r.send("".join("b%d FOO\r\n" % i for i in range(12)))
    lines = []
    while True:
        try:
            lines.append(r.line())
        except EOFError:
            break
    assert any(line.startswith("* BYE") for line in lines), lines
    r.close()


def test_garbage_tls_handshake_is_dropped(env):
    s = socket.create_connection(("127.0.0.1", env.proxy.port("imaps")),
                                 timeout=10)
    s.sendall(b"\x16\x03\x01\x00\x05garbagegarbagegarbage\r\n" * 4)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    s.close()
    assert b"* OK" not in data
    # The process goes on serving.
    c = env.imaps()
    typ, _ = c.login(env.bob, PASSWORD)
    assert typ == "OK"
    c.logout()


def test_command_pipelined_behind_starttls_is_not_honoured(env):
    r = env.raw("imap")
    r.line()
    r.send("a1 STARTTLS\r\na2 LOGIN %s %s\r\n" % (env.bob, PASSWORD))
    assert r.line().startswith("a1 OK")
    r.starttls(env.ssl_context())
    # a2 was discarded: the next thing said is the answer to a3.
    r.send("a3 NOOP\r\n")
    assert r.line().startswith("a3 OK")
    r.close()


def test_login_timeout(make_instance):
    e = Env(make_instance, proxy_params={"proxy_login_timeout": "1s"})
    r = e.raw("imap")
    r.line()
    line = r.line()
    assert line.startswith("* BYE"), line
    assert r.closed()


def test_authd_unreachable_is_a_temporary_failure(env):
    import os
    os.unlink(os.path.join(env.proxy.queue_dir, "private", "auth"))
    c = env.imaps()
    with pytest.raises(imaplib.IMAP4.error) as e:
        c.login(env.alice, PASSWORD)
    assert "UNAVAILABLE" in str(e.value)
    assert "AUTHENTICATIONFAILED" not in str(e.value)
    c.logout()
    env.proxy.wait_for_log(r"authd: .*private/auth")


# The proxy connects to the stores from 127.0.0.1.
TRUST_PROXY = {"proxy_trusted_networks": "127.0.0.1/32"}


@pytest.mark.parametrize("protocol", ["native", "haproxy"])
def test_store_logs_the_client_address(make_instance, protocol):
    e = Env(make_instance, proxy_params={"proxy_backend_protocol": protocol},
            store_params=TRUST_PROXY,
            store_options={"proxy_protocol": "yes"}
            if protocol == "haproxy" else None)
    c = e.imaps()
    assert c.login(e.alice, PASSWORD)[0] == "OK"
    c.logout()
    p = e.pop3s()
    p.user(e.bob)
    assert p.pass_(PASSWORD).startswith(b"+OK")
    p.quit()
    client = proxydutil.CLIENT_ADDR
    e.store_a.wait_for_log(r"imapd\[\d+\]: login user=%s method=plain "
                           r"client=%s" % (e.alice, client))
    e.store_b.wait_for_log(r"popd\[\d+\]: login %s from %s"
                           % (e.bob, client))


def test_untrusted_proxy_is_not_believed(env):
    # The stores do not list the proxy: they log the proxy's address and
    # the login still works.
    c = env.imaps()
    assert c.login(env.alice, PASSWORD)[0] == "OK"
    c.logout()
    env.store_a.wait_for_log(r"login user=%s method=plain client=127\.0\.0\.1"
                             % env.alice)
    env.store_a.wait_for_log(r"x-originating fields ignored")


def test_ldap_directory(make_instance, tmp_path):
    import slapd as slapd_fixture
    with slapd_fixture.Slapd(tmp_path) as server:
        e = Env(make_instance, proxy_params=slapd_fixture.ispmail_params(
            server, tmp_path, ldap_cache_positive_ttl="0",
            ldap_cache_negative_ttl="0"))
        e.deliver(e.alice, "ldap alice")
        e.deliver(e.bob, "ldap bob")
        for user, subject in ((e.alice, "Subject: ldap alice"),
                              (e.bob, "Subject: ldap bob")):
            c = e.imaps()
            assert c.login(user, PASSWORD)[0] == "OK"
            assert read_subjects(c) == [subject]
            c.logout()
        # The directory is down: "try later", never "wrong password".
        server.stop()
        c = e.imaps()
        with pytest.raises(imaplib.IMAP4.error) as err:
            c.login(e.alice, PASSWORD)
        assert "UNAVAILABLE" in str(err.value)
        c.logout()


def test_backend_tls_is_verified(make_instance):
    """proxy_backend_tls: the store's certificate must name the address
    connected to (the test certificate names 127.0.0.1, not 127.0.0.2)."""
    certs = tlsutil.make_certs()
    ports = {"imap": proxydutil.ports_free_on(["127.0.0.1",
                                               proxydutil.STORE_A]),
             "pop3": proxydutil.ports_free_on(["127.0.0.1",
                                               proxydutil.STORE_A])}
    tls = {"tls_cert_file": certs["cert"], "tls_key_file": certs["key"]}
    good = proxydutil.make_store(make_instance, "127.0.0.1", ports,
                                 ["tom@example.test"], tls,
                                 {"tls_wrapper_mode": "yes"})
    bad = proxydutil.make_store(make_instance, proxydutil.STORE_A, ports,
                                ["tim@example.test"], tls,
                                {"tls_wrapper_mode": "yes"})
    proxy = proxydutil.make_proxy(
        make_instance, {"tom@example.test": "127.0.0.1",
                        "tim@example.test": proxydutil.STORE_A}, ports,
        {"proxy_backend_tls": "yes", "proxy_backend_ca_file": certs["ca"]})
    ctx = tlsutil.client_context(certs)
    c = imaplib.IMAP4_SSL("127.0.0.1", proxy.port("imaps"), ssl_context=ctx,
                          timeout=20)
    assert c.login("tom@example.test", PASSWORD)[0] == "OK"
    c.logout()
    good.wait_for_log(r"login user=tom@example\.test method=plain")
    c = imaplib.IMAP4_SSL("127.0.0.1", proxy.port("imaps"), ssl_context=ctx,
                          timeout=20)
    with pytest.raises(imaplib.IMAP4.error) as err:
        c.login("tim@example.test", PASSWORD)
    assert "UNAVAILABLE" in str(err.value)
    c.logout()
    proxy.wait_for_log(r"backend=127\.0\.0\.2: TLS handshake: .*"
                       r"certificate verify failed")
    assert "tim@example.test" not in bad.log()
