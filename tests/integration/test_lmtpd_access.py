"""Who may talk to lmtpd: LMTP has no authentication, so a unix socket in
private/ (mail_owner only) is the default for local delivery, and a TCP
listener accepts only lmtp_trusted_networks."""

import os
import pwd
import smtplib
import socket
import stat

import pytest

import harness
import lmtpdutil
import mailutil
import tlsutil
from lmtpdutil import lmtp_instance


def greeting(inst, host="127.0.0.1", family=socket.AF_INET):
    with socket.create_connection((host, inst.port("lmtp")), timeout=10) \
            as s:
        return s.makefile("rb").readline()


@pytest.mark.parametrize("trusted", ["", "192.0.2.0/24 2001:db8::/32",
                                     "[::1]/128"])
def test_untrusted_tcp_client_refused(make_instance, trusted):
    """Outside lmtp_trusted_networks (empty, the default, trusts none):
    a 421 greeting, a log line, no delivery possible."""
    inst = lmtp_instance(make_instance, mailboxes=[("alice",)],
                         params={"lmtp_trusted_networks": trusted})
    line = greeting(inst)
    assert line.startswith(b"421 4.7.0 ") and b"not authorized" in line, \
        line
    inst.wait_for_log(r"reject: connect from 127\.0\.0\.1: not in "
                      r"lmtp_trusted_networks")
    with pytest.raises(smtplib.SMTPConnectError):
        smtplib.LMTP("127.0.0.1", inst.port("lmtp"), timeout=10)
    assert lmtpdutil.messages(inst, "alice") == {}


@pytest.mark.parametrize("trusted", ["127.0.0.1", "10.0.0.0/8,127.0.0.0/8",
                                     "::ffff:127.0.0.0/104"])
def test_trusted_tcp_client_delivers(make_instance, trusted):
    inst = lmtp_instance(make_instance, mailboxes=[("alice",)],
                         params={"lmtp_trusted_networks": trusted})
    client = lmtpdutil.lmtp(inst)
    client.sendmail("x@remote.test", ["alice@example.test"],
                    b"Subject: trusted\r\n\r\nhi\r\n")
    client.quit()
    [msg] = lmtpdutil.messages(inst, "alice").values()
    assert b"Subject: trusted" in msg


def test_bad_trusted_networks_stop_lmtpd(make_instance):
    inst = lmtp_instance(make_instance, params={
        "lmtp_trusted_networks": "127.0.0.1/8"})
    try:
        greeting(inst)
    except OSError:
        pass
    inst.wait_for_log(r"fatal: lmtp_trusted_networks: \"127\.0\.0\.1/8\" "
                      r"is not an address")


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


def test_local_delivery_over_unix_socket_by_default(make_instance, certs):
    """The shipped setup: lmtpd on private/lmtpd, the agent reaching it
    through lmtp_local_nexthop's default; the socket is mail_owner's and
    its directory closed to everyone else."""
    services = mailutil.delivery_services(None)
    services.append(harness.Service("lmtpd", "lmtpd/lmtpd", type="unix",
                                    listen="private/lmtpd", maxproc=2))
    inst = make_instance(services=services)
    inst.params.update(mailutil.delivery_params(inst, certs, 0))
    del inst.params["lmtp_local_nexthop"]
    inst.write_main_conf()
    mailutil.provision(inst)
    assert inst.ctl("config", "lmtp_local_nexthop").stdout == \
        "lmtp_local_nexthop = unix:private/lmtpd\n"
    inst.start()
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    s.sendmail("x@remote.test", ["alice@example.test"],
               b"Subject: via unix\r\n\r\nhi\r\n")
    s.quit()
    [msg] = mailutil.wait_messages(inst, "alice@example.test", 1)
    assert b"Subject: via unix" in msg
    private = os.path.join(inst.queue_dir, "private")
    owner = pwd.getpwnam(inst.base_params()["mail_owner"])
    st = os.stat(private)
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == owner.pw_uid
    st = os.lstat(os.path.join(private, "lmtpd"))
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (owner.pw_uid, owner.pw_gid)
