"""proxyd's abuse limits, counted by anvil for every proxyd process:
sessions per client address and per account, and failed logins per
address and per login over anvil's window with a growing delay and then a
temporary refusal, each logged with its reason."""

import imaplib
import time

import pytest

import proxydutil
from proxydutil import Env, PASSWORD


def test_sessions_per_client_address(make_instance):
    e = Env(make_instance, proxy_params={"proxy_max_sessions_per_ip": "2"})
    held = [e.raw("imapp"), e.raw("imapp")]
    for r in held:
        assert r.line().startswith("* OK")
    r = e.raw("imapp")
    lines = []
    while True:
        try:
            lines.append(r.line())
        except (EOFError, ConnectionResetError):
            break
    assert any(line.startswith("* BYE Too many connections")
               for line in lines), lines
    e.proxy.wait_for_log(r"client 127\.0\.0\.1: too many sessions from "
                         r"this address reason=proxy_max_sessions_per_ip")
    # One ends: its count is given back.
    held.pop().close()
    time.sleep(0.5)
    r = e.raw("imapp")
    assert r.line().startswith("* OK")
    r.send("a1 NOOP\r\n")
    assert r.line().startswith("a1 OK")


def test_sessions_per_account(make_instance):
    e = Env(make_instance, proxy_params={"proxy_max_sessions_per_user": "1"})
    first = e.imaps()
    first.login(e.alice, PASSWORD)
    c = e.imaps()
    with pytest.raises(imaplib.IMAP4.error) as err:
        c.login(e.alice, PASSWORD)
    assert "UNAVAILABLE" in str(err.value)
    # Another account is not affected.
    other = e.imaps()
    assert other.login(e.bob, PASSWORD)[0] == "OK"
    other.logout()
    e.proxy.wait_for_log(r"user=%s client=\S+: too many sessions "
                         r"reason=proxy_max_sessions_per_user" % e.alice)
    first.logout()
    time.sleep(0.5)
    assert c.login(e.alice, PASSWORD)[0] == "OK"
    c.logout()


def test_failed_logins_grow_the_delay_then_refuse(make_instance):
    e = Env(make_instance, proxy_params={
        "auth_failure_delay": "1s",
        "proxy_auth_fail_delay_max": "3s",
        "proxy_auth_fail_limit": "3",
        "anvil_rate_time_unit": "60s",
    })
    took = []
    # Each failure on a new connection: the counts outlive sessions.
    for _ in range(3):
        c = e.imaps()
        start = time.monotonic()
        with pytest.raises(imaplib.IMAP4.error) as err:
            c.login(e.alice, "wrong")
        took.append(time.monotonic() - start)
        assert "AUTHENTICATIONFAILED" in str(err.value)
        c.shutdown()
    assert 0.9 <= took[0] < 1.8, took
    assert 1.9 <= took[1] < 2.8, took
    # Capped by proxy_auth_fail_delay_max.
    assert 2.9 <= took[2] < 3.8, took
    # Now even the right password is refused, at once, as "try later".
    c = e.imaps()
    start = time.monotonic()
    with pytest.raises(imaplib.IMAP4.error) as err:
        c.login(e.alice, PASSWORD)
    assert time.monotonic() - start < 0.9
    assert "UNAVAILABLE" in str(err.value)
    c.shutdown()
    e.proxy.wait_for_log(r"login refused user=%s client=%s: 3 failed "
                         r"logins reason=auth_fail_limit"
                         % (e.alice, proxydutil.CLIENT_ADDR))
    # The directory was not asked for the refused login.
    assert e.proxy.log().count("auth ok") == 0
    assert e.proxy.log().count("login failed user=%s" % e.alice) == 3
