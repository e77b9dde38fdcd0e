"""ispmail-sendmail (ispmail-sendmail(8)): the sendmail command line of
this host's users, talking to smtpd over public/sendmail, where the
kernel names the user (smtpd_local.c)."""

import os
import pwd
import subprocess

import pytest

import harness
import mailutil
import tlsutil

SENDMAIL = os.path.join(harness.TOP_BUILDDIR, "tools", "ispmail-sendmail")

# sysexits.h
EX_USAGE, EX_DATAERR, EX_NOUSER, EX_TEMPFAIL, EX_NOPERM = 64, 65, 67, 75, 77


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


def make_system(make_instance, certs, params=None, with_socket=True):
    port = harness.free_port()
    services = mailutil.delivery_services(port)
    if with_socket:
        services.append(harness.Service(
            "sendmail", "smtpd/smtpd", type="unix", listen="public/sendmail",
            maxproc=4, options={"smtpd_mode": "submission"}))
    inst = make_instance(services=services)
    inst.params.update(mailutil.delivery_params(inst, certs, port))
    inst.params.update(params or {})
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.start()
    return inst


def sendmail(inst, args, message):
    return subprocess.run([SENDMAIL, "-C", inst.config_dir] + list(args),
                          input=message, capture_output=True, timeout=60)


def me():
    return pwd.getpwuid(os.getuid()).pw_name


def test_local_user_sends_and_is_named(make_instance, certs):
    inst = make_system(make_instance, certs)
    r = sendmail(inst, ["-i", "-F", "Web Site", "alice@example.test"],
                 b"Subject: from cron\n\nline one\n.\nlast line\n")
    assert r.returncode == 0, r.stderr
    [msg] = mailutil.wait_messages(inst, "alice@example.test", 1)
    text = msg.decode()
    uid = os.getuid()
    # The kernel's word for who sent it, in the Received: field.
    assert "Received: by mx.example.test (ispmail, from local user %s uid %d)" \
        % (me(), uid) in text
    # What a sendmail command line adds: From: (with -F), and the MSA's
    # Date: and Message-ID:.
    assert 'From: "Web Site" <%s@mx.example.test>' % me() in text
    assert "\nDate: " in text and "\nMessage-ID: <" in text
    # -i: a line of one dot is data, dot-stuffed on the wire and back.
    assert text.endswith("line one\n.\nlast line\n")
    assert "local client user=%s uid=%d" % (me(), uid) in inst.log()
    # The envelope sender is the user at this host.
    assert "from=<%s@mx.example.test>" % me() in inst.log()


def test_extract_recipients_and_hide_bcc(make_instance, certs):
    inst = make_system(make_instance, certs)
    r = sendmail(inst, ["-t", "-f", "web@example.test"],
                 b"From: Shop <shop@example.test>\n"
                 b"To: Alice <alice@example.test>\n"
                 b"Bcc: bob@example.test\n"
                 b"Subject: order\n\nthanks\n")
    assert r.returncode == 0, r.stderr
    for who in ("alice", "bob"):
        [msg] = mailutil.wait_messages(inst, who + "@example.test", 1)
        assert b"Subject: order" in msg
        assert b"Bcc:" not in msg
        assert b"From: Shop <shop@example.test>" in msg
        if who == "alice":
            # The blind copy's recipient is nowhere in the other copy.
            assert b"bob" not in msg
    assert "from=<web@example.test>" in inst.log()


def test_dot_line_ends_input_without_i(make_instance, certs):
    inst = make_system(make_instance, certs)
    r = sendmail(inst, ["bob@example.test"],
                 b"Subject: dots\n\nkept\n.\nnot sent\n")
    assert r.returncode == 0, r.stderr
    [msg] = mailutil.wait_messages(inst, "bob@example.test", 1)
    assert msg.endswith(b"kept\n")
    assert b"not sent" not in msg


def test_all_or_nothing_on_unknown_recipient(make_instance, certs):
    inst = make_system(make_instance, certs)
    r = sendmail(inst, ["alice@example.test", "nobody@example.test"],
                 b"Subject: x\n\nbody\n")
    assert r.returncode == EX_NOUSER, (r.returncode, r.stderr)
    assert b"nobody@example.test" in r.stderr
    assert mailutil.maildir_messages(inst, "alice@example.test") == []
    assert mailutil.queue_empty(inst)


def test_bad_addresses_are_usage_errors(make_instance, certs):
    inst = make_system(make_instance, certs)
    r = sendmail(inst, ["-f", "a b@example.test", "alice@example.test"],
                 b"x\n")
    assert r.returncode == EX_USAGE
    r = sendmail(inst, ["-t"], b"To: <evil@example.test>\r\nRCPT TO:<x>, "
                 b"\"a\r\n b\"@example.test\n\nbody\n")
    assert r.returncode in (EX_DATAERR, EX_NOUSER), r.stderr
    assert mailutil.maildir_messages(inst, "alice@example.test") == []


def test_user_not_allowed(make_instance, certs):
    inst = make_system(make_instance, certs,
                       params={"local_submit_users": "somebody-else"})
    r = sendmail(inst, ["alice@example.test"], b"Subject: x\n\nbody\n")
    assert r.returncode == EX_NOPERM, (r.returncode, r.stderr)
    assert b"may not send" in r.stderr
    assert "is not in local_submit_users" in inst.log()


def test_mail_system_down_is_temporary(make_instance, certs):
    inst = make_system(make_instance, certs, with_socket=False)
    r = sendmail(inst, ["alice@example.test"], b"Subject: x\n\nbody\n")
    assert r.returncode == EX_TEMPFAIL, (r.returncode, r.stderr)
    assert b"cannot reach the mail system" in r.stderr


def test_relays_for_local_users(make_instance, certs):
    # A web site's mail to the outside world is taken (and queued for
    # the remote agent), as from a host of mynetworks.
    inst = make_system(make_instance, certs)
    r = sendmail(inst, ["someone@remote.test"], b"Subject: out\n\nbody\n")
    assert r.returncode == 0, r.stderr
    assert "to=<someone@remote.test>" in inst.ctl("queue", "list").stdout + \
        inst.log()
