"""authd: login checks for proxyd over private/auth (authd(8)), with a real
master, a real unix socket and the attribute protocol written here by hand;
the file backend and a real slapd (stopped: tempfail, never fail)."""

import os
import socket
import time

import pytest

import harness
import slapd as slapd_fixture

PASSWORD = "auth-pw-1"


def auth_service(maxproc=2):
    return harness.Service("auth", "auth/authd", type="unix",
                           listen="private/auth", maxproc=maxproc)


def ctl(inst, *args, input=None):
    r = inst.ctl(*args, input=input)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def provision(inst):
    ctl(inst, "domain", "add", "example.test", "mailhost=store-a.test")
    ctl(inst, "domain", "add", "plain.test")
    ctl(inst, "mailbox", "add", "anna@example.test", "--password-stdin",
        input=PASSWORD + "\n")
    ctl(inst, "mailbox", "add", "bert@example.test",
        "host=store-b1.test,store-b2.test", "--password-stdin",
        input=PASSWORD + "\n")
    ctl(inst, "mailbox", "add", "carl@plain.test", "--password-stdin",
        input=PASSWORD + "\n")
    ctl(inst, "mailbox", "add", "susi@example.test", "state=suspended",
        "--password-stdin", input=PASSWORD + "\n")
    ctl(inst, "mailbox", "add", "dora@example.test", "state=disabled",
        "--password-stdin", input=PASSWORD + "\n")


class AuthConn:
    """One connection to private/auth; many requests in turn."""

    def __init__(self, inst, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(os.path.join(inst.queue_dir, "private", "auth"))
        self.reader = harness.AttrReader(self.sock)

    def ask(self, record):
        self.sock.sendall(harness.attr_encode(record)
                          if not isinstance(record, bytes) else record)
        return self.reader.record()

    def authenticate(self, login, password=PASSWORD, service="imap",
                     client="192.0.2.44"):
        return self.ask([("request", "authenticate"), ("service", service),
                         ("login", login), ("password", password),
                         ("client", client)])

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def file_inst():
    inst = harness.Instance([auth_service()], {
        "route_backend": "file",
        "route_file_check_interval": "0",
        "store_owner": harness.current_user(),
    }, name="ispmail-authd")
    try:
        inst.write_main_conf()
        open(os.path.join(inst.config_dir, "routes"), "a").close()
        provision(inst)
        inst.start()
        yield inst
    finally:
        inst.close()


@pytest.fixture
def inst(file_inst, request):
    request.node._ispmail_instances = [file_inst]
    return file_inst


def test_good_logins_name_the_user_and_the_mail_host(inst):
    conn = AuthConn(inst)
    try:
        # Many requests on one connection, any service.
        r = conn.authenticate("anna@example.test")
        assert r == {"status": "ok", "user": "anna@example.test",
                     "hosts": "store-a.test"}, r
        # The login is normalised: the canonical address comes back.
        r = conn.authenticate("Anna@EXAMPLE.test", service="pop3")
        assert r["status"] == "ok" and r["user"] == "anna@example.test", r
        # A mailbox's own host list wins over its domain's.
        r = conn.authenticate("bert@example.test", service="submission")
        assert r["hosts"] == "store-b1.test,store-b2.test", r
        # No mail host anywhere: this host.
        r = conn.authenticate("carl@plain.test")
        assert r["hosts"] == "localhost", r
    finally:
        conn.close()
    inst.wait_for_log(r"auth ok service=imap login=anna@example\.test "
                      r"client=192\.0\.2\.44 user=anna@example\.test "
                      r"hosts=store-a\.test")


def test_bad_logins_fail(inst):
    conn = AuthConn(inst)
    try:
        for login, password in (("anna@example.test", "wrong"),
                                ("nobody@example.test", PASSWORD),
                                ("not an address", PASSWORD)):
            r = conn.authenticate(login, password)
            assert r == {"status": "fail",
                         "reason": "invalid credentials"}, (login, r)
        r = conn.authenticate("susi@example.test")
        assert r == {"status": "fail", "reason": "account suspended"}, r
        r = conn.authenticate("dora@example.test")
        assert r == {"status": "fail", "reason": "account disabled"}, r
        # A wrong password does not reveal the account's state.
        r = conn.authenticate("susi@example.test", "wrong")
        assert r["reason"] == "invalid credentials", r
    finally:
        conn.close()
    inst.wait_for_log(r'auth failed service=imap login=anna@example\.test '
                      r'client=192\.0\.2\.44 reason="invalid credentials"')


def test_bad_requests_are_answered_and_the_connection_goes_on(inst):
    conn = AuthConn(inst)
    try:
        r = conn.ask({"request": "lookup", "login": "anna@example.test"})
        assert r == {"status": "error", "reason": "unknown request"}, r
        r = conn.ask({"request": "authenticate", "service": "imap",
                      "login": "anna@example.test"})
        assert r["status"] == "error", r
        r = conn.authenticate("anna@example.test", service="ftp")
        assert r == {"status": "error", "reason": "unknown service"}, r
        # A malformed record (bad escape, bad name) is an error too.
        r = conn.ask(b"request=authenticate\nlogin=%zz\n\n")
        assert r["status"] == "error", r
        r = conn.ask(b"Request=x\n\n")
        assert r["status"] == "error", r
        # An over-long login is refused, not looked up.
        r = conn.authenticate("a" * 2000 + "@example.test")
        assert r["status"] == "error", r
        # Control bytes in the login reach the log escaped only.
        r = conn.authenticate("anna\r\nforged: line@example.test")
        assert r["status"] == "fail", r
        r = conn.authenticate("anna@example.test")
        assert r["status"] == "ok", r
    finally:
        conn.close()
    log = inst.log()
    assert "forged: line@example.test client" in log
    assert "\nforged:" not in log


def test_lookups_run_in_parallel_up_to_maxproc(inst):
    """maxproc=2: two connections are served at once, each by its own
    process; a third waits for one to close."""
    first, second = AuthConn(inst), AuthConn(inst)
    try:
        assert first.authenticate("anna@example.test")["status"] == "ok"
        assert second.authenticate("anna@example.test")["status"] == "ok"
        third = AuthConn(inst, timeout=1)
        try:
            third.sock.sendall(harness.attr_encode(
                [("request", "authenticate"), ("service", "imap"),
                 ("login", "anna@example.test"), ("password", PASSWORD),
                 ("client", "192.0.2.1")]))
            with pytest.raises(socket.timeout):
                third.reader.record()
            first.close()
            third.sock.settimeout(10)
            assert third.reader.record()["status"] == "ok"
        finally:
            third.close()
    finally:
        first.close()
        second.close()


def test_ldap_down_is_a_temporary_failure(make_instance, tmp_path, request):
    with slapd_fixture.Slapd(tmp_path) as server:
        inst = make_instance([auth_service()],
                             params=slapd_fixture.ispmail_params(
                                 server, tmp_path,
                                 ldap_cache_positive_ttl="0",
                                 ldap_cache_negative_ttl="0"))
        request.node._ispmail_instances = [inst]
        inst.write_main_conf()
        provision(inst)
        inst.start()
        conn = AuthConn(inst)
        try:
            r = conn.authenticate("anna@example.test")
            assert r == {"status": "ok", "user": "anna@example.test",
                         "hosts": "store-a.test"}, r
            r = conn.authenticate("anna@example.test", "wrong")
            assert r["status"] == "fail", r
            server.stop()
            start = time.monotonic()
            for password in (PASSWORD, "wrong"):
                r = conn.authenticate("anna@example.test", password)
                assert r == {"status": "tempfail",
                             "reason": "directory unavailable"}, r
            assert time.monotonic() - start < 10
            server.start()
            # The directory is back: logins work again, same connection.
            harness.wait_for(
                lambda: conn.authenticate("anna@example.test")["status"]
                == "ok", timeout=10, what="ok after slapd restart")
        finally:
            conn.close()
        inst.wait_for_log(r"auth tempfail service=imap "
                          r"login=anna@example\.test")
