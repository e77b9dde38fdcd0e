"""Mailbox moves: the "moving" account state (deliveries defer with 4xx,
logins fail temporarily, administrator logins still read the mailbox),
against a real instance with imapd and lmtpd (imaplib, smtplib.LMTP)."""

import imaplib
import os

import pytest

import harness
from imapdutil import USER, PASSWORD, make_imap_instance
from proxydutil import Env, PASSWORD as PROXY_PASSWORD
from lmtpdutil import lmtp, transaction

ADMIN = "mover@example.test"
ADMIN_PASSWORD = "mover-secret"
BODY = b"From: bob@remote.test\r\nSubject: during the move\r\n\r\nHi.\r\n"


@pytest.fixture
def inst(make_instance):
    inst, store = make_imap_instance(
        make_instance, params={"imap_admin_logins": ADMIN,
                               "myhostname": "store1.example.test"},
        services_extra=[harness.Service("lmtp", "lmtpd/lmtpd", maxproc=2)])
    r = inst.ctl("mailbox", "add", ADMIN, "--password-stdin",
                 input=ADMIN_PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    inst.store = store
    return inst


def set_state(inst, state):
    r = inst.ctl("mailbox", "set", USER, "state=" + state)
    assert r.returncode == 0, r.stderr
    r = inst.ctl("mailbox", "show", USER)
    assert r.returncode == 0 and ("state: %s" % state) in r.stdout, r


def test_moving_state_defers_and_refuses_temporarily(inst):
    set_state(inst, "moving")
    with open(os.path.join(inst.config_dir, "routes")) as f:
        assert "state=moving" in f.read()
    # Delivery: 451 4.2.1 at RCPT, nothing written to the store.
    client = lmtp(inst)
    rcpt, data = transaction(client, "bob@remote.test", [USER], BODY)
    assert rcpt[0][0] == 451 and b"4.2.1" in rcpt[0][1], rcpt
    assert data == []
    client.quit()
    assert os.listdir(os.path.join(inst.store, "new")) == []
    inst.wait_for_log(r"to=<%s> status=deferred \(mailbox being moved\)"
                      % USER)
    # The owner's login fails temporarily, even with the right password.
    c = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    with pytest.raises(imaplib.IMAP4.error, match=r"\[UNAVAILABLE\]"):
        c.login(USER, PASSWORD)
    c.logout()
    inst.wait_for_log(r"mailbox %s is being moved" % USER)
    # The move's administrator login still reads it.
    c = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    typ, _ = c.authenticate("PLAIN", lambda _: (
        "%s\0%s\0%s" % (USER, ADMIN, ADMIN_PASSWORD)).encode())
    assert typ == "OK"
    assert c.select("INBOX")[0] == "OK"
    c.logout()
    # Back to active: delivery and login work again.
    set_state(inst, "active")
    client = lmtp(inst)
    rcpt, data = transaction(client, "bob@remote.test", [USER], BODY)
    assert rcpt[0][0] == 250 and data[0][0] == 250, (rcpt, data)
    client.quit()
    assert len(os.listdir(os.path.join(inst.store, "new"))) == 1
    c = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    assert c.login(USER, PASSWORD)[0] == "OK"
    c.logout()


def test_moving_state_bad_value_refused(inst):
    r = inst.ctl("mailbox", "set", USER, "state=leaving")
    assert r.returncode != 0
    assert "active, suspended, disabled or moving" in r.stderr


def test_proxyd_refuses_moving_mailbox_temporarily(make_instance):
    env = Env(make_instance)
    r = env.proxy.ctl("mailbox", "set", env.alice, "state=moving")
    assert r.returncode == 0, r.stderr
    c = env.imaps()
    with pytest.raises(imaplib.IMAP4.error) as e:
        c.login(env.alice, PROXY_PASSWORD)
    assert "UNAVAILABLE" in str(e.value)
    assert "AUTHENTICATIONFAILED" not in str(e.value)
    c.logout()
    env.proxy.wait_for_log(r"mailbox %s is being moved" % env.alice)
    # Other users are not affected.
    c = env.imaps()
    assert c.login(env.bob, PROXY_PASSWORD)[0] == "OK"
    c.logout()
