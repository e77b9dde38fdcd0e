"""Per-login hourly submission limits (smtpd_login_message_rate_limit,
smtpd_login_recipient_rate_limit): anvil counts each authenticated
login's messages and recipients across every smtpd process (and proxyd),
and smtpd answers 451 4.7.1 past a limit, with smtplib and raw BDAT."""

import smtplib
import socket

import pytest

import harness
import mailutil
from mailutil import PASSWORD


@pytest.fixture
def inst(make_instance, request):
    inst = make_instance([
        harness.Service("submission", "smtpd/smtpd", maxproc=3,
                        options={"smtpd_mode": "submission",
                                 "auth_allow_plaintext": "yes"}),
        harness.Service("unlimited", "smtpd/smtpd", maxproc=2,
                        options={"smtpd_mode": "submission",
                                 "auth_allow_plaintext": "yes",
                                 "smtpd_login_message_rate_limit": "0",
                                 "smtpd_login_recipient_rate_limit": "0"}),
    ], params={
        "route_backend": "file",
        "route_file_check_interval": "0",
        "store_owner": harness.current_user(),
        "myhostname": "mx.example.test",
        "auth_failure_delay": "0",
        "smtpd_login_message_rate_limit": "2",
        "smtpd_login_recipient_rate_limit": "5",
    })
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.start()
    request.node._ispmail_instances = [inst]
    return inst


def login(inst, user, service="submission"):
    s = smtplib.SMTP("127.0.0.1", inst.port(service), timeout=10)
    s.ehlo("client.test")
    s.login(user, PASSWORD)
    return s


def send(s, sender, rcpts):
    s.mail(sender)
    for rcpt in rcpts:
        assert s.rcpt(rcpt)[0] == 250
    try:
        return s.data(b"Subject: rate\r\n\r\nbody\r\n")
    except smtplib.SMTPDataError as e:
        return e.smtp_code, e.smtp_error


def test_message_limit_per_login(inst):
    # Two messages, each from its own connection (its own process).
    for _ in range(2):
        s = login(inst, "alice@example.test")
        assert send(s, "alice@example.test", ["bob@example.test"])[0] == 250
        s.quit()
    s = login(inst, "alice@example.test")
    code, text = send(s, "alice@example.test", ["bob@example.test"])
    assert (code, text) == (451, b"4.7.1 Error: sending rate exceeded for "
                            b"alice@example.test, try again later")
    # The session goes on: another try is refused again, not counted.
    assert send(s, "alice@example.test", ["bob@example.test"])[0] == 451
    s.quit()
    assert len(mailutil.queue_files(inst)) == 2
    inst.wait_for_log(r"refused message of login alice@example\.test to "
                      r"service submission reason=login_message_limit "
                      r"messages=2 recipients=2\+1 limit=2")
    # Other logins have their own count.
    s = login(inst, "bob@example.test")
    assert send(s, "bob@example.test", ["alice@example.test"])[0] == 250
    s.quit()
    # A listener without limits does not count or refuse.
    s = login(inst, "alice@example.test", "unlimited")
    assert send(s, "alice@example.test", ["bob@example.test"])[0] == 250
    s.quit()
    status = inst.ctl("status").stdout
    assert "submission login_message_limit 2" in status, status


def test_recipient_limit_per_login_with_bdat(inst):
    s = login(inst, "bob@example.test")
    rcpts = ["alice@example.test", "a.smith@example.test",
             "team@example.test", "x1@remote.test", "x2@remote.test"]
    assert send(s, "bob@example.test", rcpts)[0] == 250
    s.quit()
    # One more recipient passes 5 in the hour: refused at BDAT too.
    sock = socket.create_connection(("127.0.0.1", inst.port("submission")),
                                    timeout=10)
    try:
        f = sock.makefile("rb")

        def cmd(line):
            sock.sendall(line)
            while True:
                reply = f.readline()
                if reply[3:4] != b"-":
                    return reply
        assert f.readline().startswith(b"220")
        assert cmd(b"EHLO client.test\r\n").startswith(b"250")
        assert cmd(b"AUTH PLAIN AGJvYkBleGFtcGxlLnRlc3QAczNjcmV0LXB3\r\n") \
            .startswith(b"235")
        assert cmd(b"MAIL FROM:<bob@example.test>\r\n").startswith(b"250")
        assert cmd(b"RCPT TO:<alice@example.test>\r\n").startswith(b"250")
        reply = cmd(b"BDAT 8 LAST\r\nbody\r\n\r\n")
        assert reply.startswith(b"451 4.7.1 Error: sending rate exceeded"), \
            reply
        assert cmd(b"QUIT\r\n").startswith(b"221")
    finally:
        sock.close()
    inst.wait_for_log(r"refused message of login bob@example\.test to "
                      r"service submission reason=login_recipient_limit "
                      r"messages=1 recipients=5\+1 limit=5")
