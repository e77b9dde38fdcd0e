"""proxyd's POP3 front: users on two stores read their own mail through
one proxy address with poplib (implicit TLS and STLS), USER/PASS and AUTH
PLAIN; a store that is down gives its users [SYS/TEMP]; bad input before
login is answered as popd answers it."""

import base64
import poplib

import pytest

import proxydutil
from proxydutil import Env, PASSWORD


@pytest.fixture
def env(make_instance):
    return Env(make_instance)


def retrieve_subjects(p):
    count, _ = p.stat()
    subjects = []
    for i in range(1, count + 1):
        _, lines, _ = p.retr(i)
        subjects += [line.decode() for line in lines
                     if line.startswith(b"Subject:")]
    return sorted(subjects)


def test_users_on_two_stores_read_their_own_mail(env):
    env.deliver(env.alice, "pop for alice")
    env.deliver(env.bob, "pop for bob")
    for user, subject in ((env.alice, "Subject: pop for alice"),
                          (env.bob, "Subject: pop for bob")):
        p = env.pop3s()
        p.user(user)
        resp = p.pass_(PASSWORD)
        # The store's own +OK (it counts the messages).
        assert resp.startswith(b"+OK Logged in, 1 messages"), resp
        assert retrieve_subjects(p) == [subject]
        # CAPA after login is the store's.
        assert "TOP" in p.capa()
        p.quit()
    env.store_a.wait_for_log(r"popd\[\d+\]: login %s from" % env.alice)
    env.store_b.wait_for_log(r"popd\[\d+\]: login %s from" % env.bob)
    env.proxy.wait_for_log(r"proxy: user=%s client=%s backend=%s relaying"
                           % (env.bob, proxydutil.CLIENT_ADDR,
                              proxydutil.STORE_B))


def test_stls_and_auth_plain_with_initial_response(env):
    env.deliver(env.bob, "stls")
    p = env.pop3("pop3")
    caps = p.capa()
    assert "STLS" in caps and "USER" not in caps
    with pytest.raises(poplib.error_proto) as e:
        p.user(env.bob)
    assert b"[AUTH]" in e.value.args[0]
    p.stls(env.ssl_context())
    caps = p.capa()
    assert "USER" in caps and "STLS" not in caps
    assert "PLAIN" in caps["SASL"]
    ir = base64.b64encode(("\0%s\0%s" % (env.bob, PASSWORD)).encode())
    resp = p._shortcmd("AUTH PLAIN " + ir.decode())
    assert resp.startswith(b"+OK"), resp
    assert retrieve_subjects(p) == ["Subject: stls"]
    p.quit()


def test_wrong_password_and_store_down(env):
    p = env.pop3s()
    p.user(env.alice)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("wrong")
    assert e.value.args[0].startswith(b"-ERR [AUTH]")
    p.quit()
    env.store_a.stop()
    p = env.pop3s()
    p.user(env.alice)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_(PASSWORD)
    assert e.value.args[0].startswith(b"-ERR [SYS/TEMP]"), e.value.args
    p.quit()
    p = env.pop3s()
    p.user(env.bob)
    assert p.pass_(PASSWORD).startswith(b"+OK")
    p.quit()


def test_prelogin_bad_input(env):
    r = env.raw("pop3p")
    assert r.line().startswith("+OK")
    r.send("USER " + "x" * 20000 + "\r\n")
    assert r.line() == "-ERR Line too long"
    r.send("RETR 1\r\n")
    assert r.line().startswith("-ERR")
    r.send("PASS x\r\n")
    assert r.line() == "-ERR USER first"
    r.send("USER %s\r\nPASS %s\r\nSTAT\r\n" % (env.bob, PASSWORD))
    assert r.line() == "+OK"
    assert r.line().startswith("+OK Logged in")
    # Pipelined behind the login: relayed to the store.
    assert r.line().startswith("+OK 0 0")
    r.close()


def test_auth_login_mechanism(env):
    r = env.raw("pop3p")
    r.line()
    r.send("AUTH LOGIN\r\n")
    assert r.line() == "+ VXNlcm5hbWU6"
    r.send(base64.b64encode(env.alice.encode()) + b"\r\n")
    assert r.line() == "+ UGFzc3dvcmQ6"
    r.send(base64.b64encode(PASSWORD.encode()) + b"\r\n")
    assert r.line().startswith("+OK Logged in")
    r.send("QUIT\r\n")
    assert r.line().startswith("+OK")
    r.close()
