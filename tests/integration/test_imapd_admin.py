"""imapd administrator logins: AUTHENTICATE PLAIN with an authorization
identity, for imap_admin_logins from imap_admin_networks only (imaplib
against a real instance)."""

import imaplib

import pytest

from imapdutil import USER, PASSWORD, deliver, make_imap_instance, message

ADMIN = "mover@example.test"
ADMIN_PASSWORD = "mover-secret"


def admin_instance(make_instance, networks=None, params=None):
    params = dict(params or {}, imap_admin_logins=ADMIN)
    if networks is not None:
        params["imap_admin_networks"] = networks
    inst, store = make_imap_instance(make_instance, params=params)
    r = inst.ctl("mailbox", "add", ADMIN, "--password-stdin",
                 input=ADMIN_PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    r = inst.ctl("mailbox", "add", "bob@example.test", "--password-stdin",
                 input="bob-secret\n")
    assert r.returncode == 0, r.stderr
    inst.store = store
    return inst


def plain(authzid, authcid, password):
    def answer(challenge):
        return ("%s\0%s\0%s" % (authzid, authcid, password)).encode()
    return answer


def test_admin_opens_any_mailbox(make_instance):
    inst = admin_instance(make_instance)
    deliver(inst.store, message("for alice"))
    c = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    typ, _ = c.authenticate("PLAIN", plain(USER, ADMIN, ADMIN_PASSWORD))
    assert typ == "OK"
    typ, data = c.select("INBOX")
    assert typ == "OK" and data == [b"1"]
    typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"for alice" in data[0][1]
    c.logout()
    inst.wait_for_log(r"admin login admin=%s user=%s client=127\.0\.0\.1"
                      % (ADMIN, USER))
    # A suspended mailbox is still opened (a move copies it).
    r = inst.ctl("mailbox", "set", USER, "state=suspended")
    assert r.returncode == 0, r.stderr
    c = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.login(USER, PASSWORD)
    c = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    typ, _ = c.authenticate("PLAIN", plain(USER, ADMIN, ADMIN_PASSWORD))
    assert typ == "OK"
    c.logout()


def test_admin_refusals(make_instance):
    inst = admin_instance(make_instance)

    def refused(authzid, authcid, password, match):
        c = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
        with pytest.raises(imaplib.IMAP4.error, match=match):
            c.authenticate("PLAIN", plain(authzid, authcid, password))
        c.logout()

    # An ordinary mailbox is no administrator, with the right password.
    refused(ADMIN, USER, PASSWORD, "AUTHORIZATIONFAILED")
    refused("bob@example.test", USER, PASSWORD, "AUTHORIZATIONFAILED")
    inst.wait_for_log(r"admin login refused admin=%s user=bob@example\.test "
                      r"client=127\.0\.0\.1: not in imap_admin_logins" % USER)
    # The administrator with a wrong password.
    refused(USER, ADMIN, "wrong", "AUTHENTICATIONFAILED")
    # A mailbox that does not exist.
    refused("nobody@example.test", ADMIN, ADMIN_PASSWORD,
            "AUTHORIZATIONFAILED")
    # Without an authorization identity, or the same one, it is an
    # ordinary login into the administrator's own mailbox.
    c = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    typ, _ = c.authenticate("PLAIN", plain(ADMIN, ADMIN, ADMIN_PASSWORD))
    assert typ == "OK"
    c.logout()
    assert "admin login admin=%s user=%s" % (ADMIN, ADMIN) not in inst.log()


def test_admin_outside_networks_refused(make_instance):
    inst = admin_instance(make_instance, networks="192.0.2.0/24")
    c = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    with pytest.raises(imaplib.IMAP4.error, match="AUTHORIZATIONFAILED"):
        c.authenticate("PLAIN", plain(USER, ADMIN, ADMIN_PASSWORD))
    inst.wait_for_log(r"admin login refused admin=%s user=%s "
                      r"client=127\.0\.0\.1: not in imap_admin_networks"
                      % (ADMIN, USER))
    # The administrator's own login is unaffected.
    typ, _ = c.login(ADMIN, ADMIN_PASSWORD)
    assert typ == "OK"
    c.logout()


def test_admin_session_goes_on_while_mailbox_moving(make_instance):
    """The move reads the source through its administrator session while
    the mailbox is marked moving: that session is not ended, the
    owner's is (imapd(8), Administrator logins)."""
    inst = admin_instance(make_instance,
                          params={"mailbox_state_check_interval": "1s"})
    admin = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    typ, _ = admin.authenticate("PLAIN", plain(USER, ADMIN, ADMIN_PASSWORD))
    assert typ == "OK"
    assert admin.select("INBOX")[0] == "OK"
    owner = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    assert owner.login(USER, PASSWORD)[0] == "OK"
    r = inst.ctl("mailbox", "set", USER, "state=moving")
    assert r.returncode == 0, r.stderr

    def owner_ended():
        try:
            owner.noop()
        except (imaplib.IMAP4.abort, OSError):
            return True
        return False
    # The owner's session ends at its next look, at least 1 s after its
    # login: by then the administrator's next look is due too.
    inst.wait_for(owner_ended, timeout=10, what="the owner's BYE")
    assert admin.noop()[0] == "OK"
    deliver(inst.store, message("during the move"))
    assert admin.select("INBOX")[0] == "OK"
    typ, data = admin.uid("SEARCH", "ALL")
    assert typ == "OK" and len(data[0].split()) == 1
    admin.logout()
    assert inst.log().count("session ended") == 1
