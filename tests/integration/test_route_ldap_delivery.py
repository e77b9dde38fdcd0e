"""Mail delivered end to end with the LDAP routing directory (a real
slapd, tests/integration/slapd.py) and no cache, so that every reader of
a mailbox gets the fields it asked the directory for (route.h
ROUTE_FIELD_*) and nothing else: smtpd's RCPT check (state, quota), its
content filter (policy and scores, with a real spamd) and its direct
delivery, qmgr's expansion (forwards) and routing (state, mail host),
lmtpd's RCPT check (state, store, quota).  Each field is one the mail's
fate depends on, so a narrow search that missed one shows here."""

import smtplib

import pytest

import harness
import mailutil
import slapd as slapd_fixture
import tlsutil
# Debian's spamd with rules of known scores (the filter tests' fixture)
# and their messages.
from test_filter import message, spamd  # noqa: F401 (spamd: a fixture)

SPAM_WORD = b"ispmail-score-seven"   # scores 7.0 (test_filter.LOCAL_CF)


@pytest.fixture
def slapd(tmp_path):
    with slapd_fixture.Slapd(tmp_path) as server:
        yield server


def ldap_system(make_instance, server, tmp_path, spamd_servers):
    """smtpd, qmgr, the LMTP agent and lmtpd on the LDAP directory with
    every cache TTL 0; example.test provisioned with ispmailctl."""
    port = harness.free_port()
    inst = make_instance(services=mailutil.delivery_services(port))
    params = mailutil.delivery_params(inst, tlsutil.make_certs(), port)
    owner = params["store_owner"]
    params.update(slapd_fixture.ispmail_params(
        server, tmp_path, store_owner=owner,
        ldap_cache_positive_ttl="0", ldap_cache_negative_ttl="0",
        ldap_domain_cache_ttl="0", spamd_servers=spamd_servers,
        lmtp_quota_full_permanent="no"))
    inst.params.update(params)
    inst.write_main_conf()

    def ctl(*args):
        r = inst.ctl(*args, timeout=30)
        assert r.returncode == 0, (args, r.stdout, r.stderr)

    ctl("domain", "add", "example.test")
    ctl("mailbox", "add", "alice@example.test", "quota=2k", "filter=off")
    ctl("mailbox", "add", "bob@example.test", "filter=off",
        "forward=carol@example.test", "keepcopy=yes")
    ctl("mailbox", "add", "carol@example.test", "filter=off")
    ctl("mailbox", "add", "dave@example.test", "filter=standard", "tag=5",
        "quarantine=10", "discard=20")
    ctl("mailbox", "add", "erin@example.test", "state=disabled")
    return inst


def send(inst, rcpts, msg, size=None):
    """DATA's reply; every RCPT must be accepted."""
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=60)
    try:
        s.ehlo("client.test")
        code, text = s.mail("sender@remote.test",
                            ["SIZE=%d" % size] if size else [])
        assert code == 250, (code, text)
        for r in rcpts:
            code, text = s.rcpt(r)
            assert code == 250, (r, code, text)
        code, text = s.data(msg)
        assert code == 250, (code, text)
        return text.decode().split()[-1]
    finally:
        s.close()


def rcpt_replies(inst, rcpts, size):
    """{address: RCPT code} after MAIL FROM with SIZE=size."""
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=60)
    try:
        s.ehlo("client.test")
        assert s.mail("sender@remote.test", ["SIZE=%d" % size])[0] == 250
        return {r: s.rcpt(r)[0] for r in rcpts}
    finally:
        s.close()


def test_delivery_reads_every_field_it_decides_on(make_instance, slapd,
                                                  tmp_path, spamd):
    inst = ldap_system(make_instance, slapd, tmp_path, spamd)
    inst.start()

    # Spam (score 7) to bob, who forwards to carol and keeps a copy, and
    # to dave, whose standard policy tags at 5: the filter's policy
    # lookups, qmgr's expansion and routing, lmtpd's store and folders.
    qid = send(inst, ["bob@example.test", "dave@example.test"],
               message(b"a offer " + SPAM_WORD + b" today", "spam"))
    [bob] = mailutil.wait_messages(inst, "bob@example.test", 1)
    [carol] = mailutil.wait_messages(inst, "carol@example.test", 1)
    [junk] = mailutil.wait_messages(inst, "dave@example.test", 1,
                                    folder="Junk")
    assert SPAM_WORD in bob and SPAM_WORD in carol
    assert b"X-Spam-Flag: YES" in junk, junk[:600]
    assert mailutil.maildir_messages(inst, "dave@example.test") == []
    assert "%s: to=<dave@example.test>, filter=tag, folder=Junk" % qid \
        in inst.log(), inst.log()[-3000:]
    # carol's copy is bob's forward, expanded from bob's entry.
    inst.wait_for(lambda: "%s: to=<carol@example.test>, "
                  "orig_to=<bob@example.test>, status=sent" % qid
                  in inst.log(), timeout=20, what="the forward's copy")

    # A clean message to alice alone goes straight to lmtpd (direct
    # delivery: state, mail host, archive, no forward) and fills most of
    # her 2 KiB quota.
    qid = send(inst, ["alice@example.test"],
               message(b"\r\n".join([b"z" * 70] * 20), "filler"))
    mailutil.wait_messages(inst, "alice@example.test", 1)
    assert "%s: to=<alice@example.test>, relay=lmtpd/direct" % qid \
        in inst.log(), inst.log()[-3000:]

    # smtpd's RCPT check reads the quota and the store (the maildirsize
    # lmtpd wrote), and the state.
    replies = rcpt_replies(inst, ["alice@example.test", "carol@example.test",
                                  "erin@example.test"], size=1500)
    assert replies == {"alice@example.test": 452, "carol@example.test": 250,
                       "erin@example.test": 550}, replies

    # Without a size hint alice is accepted at RCPT; lmtpd's own check
    # (its fields: state, store, quota) keeps the message out of her
    # store, and carol gets hers.
    qid = send(inst, ["alice@example.test", "carol@example.test"],
               message(b"\r\n".join([b"w" * 70] * 30), "big"))
    mailutil.wait_messages(inst, "carol@example.test", 2)
    inst.wait_for(lambda: any(
        qid in line and "to=<alice@example.test>" in line
        and "452 4.2.2" in line for line in inst.log().splitlines()),
        timeout=20, what="alice's copy refused by lmtpd's quota check")
    assert len(mailutil.maildir_messages(inst, "alice@example.test")) == 1
