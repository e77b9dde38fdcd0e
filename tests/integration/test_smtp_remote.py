"""The smtp agent in SMTP mode, end to end: submission -> qmgr -> smtp ->
remote MTAs on other loopback addresses (127.0.0.2, .3, ...), with MX
records from a real dnsmasq: MX preference and fallback, a dead primary
and a refusing greeting, the even spread among equal preferences, a 4xx
then a 2xx, STARTTLS with the verify policy, outbound classes binding
their source address, null MX and mail loops bouncing, SIZE, DSN and
SMTPUTF8, connection reuse, relayhost, and the backup MX that hands
mail for its relay domain to the primary."""

import email
import re
import smtplib
import time

import pytest

import dnsutil
import harness
import mailutil
import smtpremoteutil
import tlsutil
from smtpremoteutil import RemoteMTA

ZONE = [
    # Preference 10 then 20.
    "--mx-host=pref.test,mx1.pref.test,10",
    "--mx-host=pref.test,mx2.pref.test,20",
    "--host-record=mx1.pref.test,127.0.0.2",
    "--host-record=mx2.pref.test,127.0.0.3",
    # Two equal preferences.
    "--mx-host=spread.test,a.spread.test,10",
    "--mx-host=spread.test,b.spread.test,10",
    "--host-record=a.spread.test,127.0.0.2",
    "--host-record=b.spread.test,127.0.0.3",
    # Nobody listens on 127.0.0.4; 127.0.0.5 greets with 421.
    "--mx-host=dead.test,mx1.dead.test,10",
    "--mx-host=dead.test,mx2.dead.test,20",
    "--mx-host=dead.test,mx3.dead.test,30",
    "--host-record=mx1.dead.test,127.0.0.4",
    "--host-record=mx2.dead.test,127.0.0.5",
    "--host-record=mx3.dead.test,127.0.0.3",
    "--mx-host=alldead.test,mx1.alldead.test,10",
    "--host-record=mx1.alldead.test,127.0.0.4",
    # RFC 7505 null MX.
    "--dns-rr=nullmx.test,15,000000",
    # No MX: the domain's own address.
    "--host-record=amx.test,127.0.0.2",
    # We (mx.example.test) are the only MX; an MX at our address.
    "--mx-host=loop.test,mx.example.test,10",
    "--mx-host=loopaddr.test,self.loopaddr.test,10",
    "--host-record=self.loopaddr.test,127.0.0.1",
    # We are the backup MX of relay.test: the primary gets its mail,
    # never the worse one.
    "--mx-host=relay.test,primary.relay.test,10",
    "--mx-host=relay.test,mx.example.test,20",
    "--mx-host=relay.test,tertiary.relay.test,30",
    "--host-record=primary.relay.test,127.0.0.2",
    "--host-record=tertiary.relay.test,127.0.0.3",
    # backup.test's primary (mailutil.provision: relayhost=mx.primary.test).
    "--host-record=mx.primary.test,127.0.0.3",
    # TLS: the right name, and a host whose certificate names another.
    "--mx-host=tls.test,mx.tls.test,10",
    "--host-record=mx.tls.test,127.0.0.2",
    "--mx-host=badtls.test,wrong.tls.test,10",
    "--host-record=wrong.tls.test,127.0.0.3",
]


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    server = dnsutil.DnsServer(str(tmp_path_factory.mktemp("dns")),
                               zone=ZONE).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


@pytest.fixture
def port():
    return smtpremoteutil.free_port_on(
        ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"])


@pytest.fixture
def mtas():
    started = []

    def make(host, port, **kwargs):
        mta = RemoteMTA(host, port, **kwargs).start()
        started.append(mta)
        return mta

    yield make
    for mta in started:
        mta.stop()


_instances = []


@pytest.fixture(autouse=True)
def no_sanitizer_reports():
    """The ASan/UBSan build reports to the instance log: any report fails
    the test that caused it."""
    _instances.clear()
    yield
    for inst in _instances:
        log = inst.log()
        for marker in ("runtime error:", "AddressSanitizer",
                       "LeakSanitizer"):
            assert marker not in log, log[log.index(marker) - 2000:][:6000]


def make_system(make_instance, certs, dns, port, params=None, classes=None,
                agent_maxproc=4):
    lmtp_port = harness.free_port()
    services = smtpremoteutil.outbound_services(lmtp_port, classes=classes)
    for s in services:
        if s.name == "smtp-out":
            s.maxproc = agent_maxproc
    inst = make_instance(services=services)
    inst.params.update(mailutil.delivery_params(inst, certs, lmtp_port))
    inst.params.update({
        "dns_servers": dns.address,
        "dns_timeout": "1s",
        "dns_tries": "2",
        "smtp_port": str(port),
        # Each request looks its MX hosts up afresh (tests of the cache
        # turn it on).
        "smtp_connection_cache_time": "0",
    })
    inst.params.update(params or {})
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.certs = certs
    inst.start()
    _instances.append(inst)
    return inst


def wait_log(inst, pattern, timeout=15.0):
    return inst.wait_for_log(pattern, timeout=timeout)


def wait_queue_empty(inst, timeout=20.0):
    harness.wait_for(lambda: mailutil.queue_empty(inst), timeout=timeout,
                     what="an empty queue")


def bounce_report(msg):
    """The delivery-status part of a DSN, as text."""
    parsed = email.message_from_bytes(msg)
    for part in parsed.walk():
        if part.get_content_type() == "message/delivery-status":
            return part.as_string()
    raise AssertionError("no delivery-status part in %r" % msg[:500])


def test_mx_preference_then_fallback(make_instance, certs, dns, port, mtas):
    inst = make_system(make_instance, certs, dns, port)
    mx1 = mtas("127.0.0.2", port, name="mx1.pref.test")
    mx2 = mtas("127.0.0.3", port, name="mx2.pref.test")
    qid = smtpremoteutil.submit(inst, ["user@pref.test"],
                                "Subject: one\r\n\r\nfirst\r\n")
    [msg] = mx1.wait_messages(1, inst=inst)
    assert msg.rcpt_addresses() == ["user@pref.test"]
    assert msg.mail.startswith("FROM:<alice@example.test>")
    assert b"Subject: one" in msg.data
    assert msg.session.helo == "mx.example.test"
    assert not mx2.messages
    # The delivery line names the agent's class and our source address.
    wait_log(inst, r"smtp\[\d+\]: %s: to=<user@pref.test>, relay=mx1.pref.test"
             r"\[127.0.0.2\]:%d, transport=smtp, source=127.0.0.1, "
             r"tls=may/plain, status=sent" % (qid, port))
    # A domain without MX: its own address.
    smtpremoteutil.submit(inst, ["user@amx.test"], "Subject: a\r\n\r\na\r\n")
    wait_log(inst, r"to=<user@amx.test>, relay=amx.test\[127.0.0.2\]")
    mx1.wait_messages(2, inst=inst)
    # The primary goes away: the secondary gets the next one.
    mx1.stop()
    smtpremoteutil.submit(inst, ["user@pref.test"],
                          "Subject: two\r\n\r\nsecond\r\n")
    [msg] = mx2.wait_messages(1, inst=inst)
    assert b"Subject: two" in msg.data
    assert len(mx1.messages) == 2
    wait_queue_empty(inst)


def test_dead_primary_and_refusing_greeting(make_instance, certs, dns, port,
                                            mtas):
    inst = make_system(make_instance, certs, dns, port)
    busy = mtas("127.0.0.5", port, name="mx2.dead.test",
                greeting="421 4.3.2 mx2.dead.test too busy")
    mx3 = mtas("127.0.0.3", port, name="mx3.dead.test")
    smtpremoteutil.submit(inst, ["user@dead.test"], "Subject: d\r\n\r\nd\r\n")
    [msg] = mx3.wait_messages(1, inst=inst)
    assert msg.rcpt_addresses() == ["user@dead.test"]
    assert busy.sessions and not busy.messages
    log = inst.log()
    assert "connect to mx1.dead.test[127.0.0.4]:%d" % port in log
    assert "mx2.dead.test[127.0.0.5]:%d refused to talk to me: 421" % port \
        in log
    wait_queue_empty(inst)


def test_all_mx_dead_defers_the_hop(make_instance, certs, dns, port, mtas):
    inst = make_system(make_instance, certs, dns, port)
    qid = smtpremoteutil.submit(inst, ["a@alldead.test", "b@alldead.test"],
                                "Subject: x\r\n\r\nx\r\n")
    wait_log(inst, r"smtp:alldead.test is down \(connect to "
             r"mx1.alldead.test\[127.0.0.4\]")
    wait_log(inst, r"%s: to=<a@alldead.test>.*status=deferred \(451 4.4.1"
             % qid)
    # Still queued, for a later attempt; nothing bounced to alice.
    assert not mailutil.queue_empty(inst)
    assert not mailutil.maildir_messages(inst, "alice@example.test")
    # The MX comes up: the retry delivers both in one transaction.
    mx = mtas("127.0.0.4", port, name="mx1.alldead.test")
    [msg] = mx.wait_messages(1, timeout=30, inst=inst)
    assert sorted(msg.rcpt_addresses()) == ["a@alldead.test",
                                            "b@alldead.test"]
    wait_queue_empty(inst)


def test_equal_preference_spread(make_instance, certs, dns, port, mtas):
    inst = make_system(make_instance, certs, dns, port)
    a = mtas("127.0.0.2", port, name="a.spread.test")
    b = mtas("127.0.0.3", port, name="b.spread.test")
    count = 24
    for i in range(count):
        smtpremoteutil.submit(inst, ["user%d@spread.test" % i],
                              "Subject: %d\r\n\r\nx\r\n" % i)
    harness.wait_for(lambda: len(a.messages) + len(b.messages) >= count,
                     timeout=30, what="all messages at the two MX hosts")
    # Both get a fair share (all on one: 2 * 2^-24).
    assert len(a.messages) >= 3 and len(b.messages) >= 3, \
        (len(a.messages), len(b.messages))


def test_4xx_then_2xx(make_instance, certs, dns, port, mtas):
    inst = make_system(make_instance, certs, dns, port)
    tries = {}

    def rcpt_reply(address, _mta):
        tries[address] = tries.get(address, 0) + 1
        if address == "later@pref.test" and tries[address] == 1:
            return "451 4.2.0 <later@pref.test>: try again later"
        return None

    mx1 = mtas("127.0.0.2", port, name="mx1.pref.test",
               rcpt_reply=rcpt_reply)
    qid = smtpremoteutil.submit(inst, ["now@pref.test", "later@pref.test"],
                                "Subject: retry\r\n\r\nretry\r\n")
    msgs = mx1.wait_messages(2, timeout=30, inst=inst)
    assert msgs[0].rcpt_addresses() == ["now@pref.test"]
    assert msgs[1].rcpt_addresses() == ["later@pref.test"]
    assert tries == {"now@pref.test": 1, "later@pref.test": 2}
    log = inst.log()
    assert ("%s: to=<later@pref.test>, relay=mx1.pref.test[127.0.0.2]:%d, "
            "transport=smtp, source=127.0.0.1, tls=may/plain, "
            "status=deferred (451 4.2.0 host mx1.pref.test[127.0.0.2]:%d "
            "said: 451 4.2.0" % (qid, port, port)) in log
    wait_queue_empty(inst, timeout=30)


def test_tls_may_and_verify(make_instance, certs, dns, port, mtas):
    remote = tlsutil.make_certs(hostname="mx.tls.test")
    inst = make_system(make_instance, certs, dns, port, params={
        "smtp_tls_policy": "tls.test=verify .badtls.test=may "
                           "badtls.test=verify",
        "smtp_tls_ca_file": remote["ca"],
    })
    good = mtas("127.0.0.2", port, name="mx.tls.test", certs=remote)
    wrong = mtas("127.0.0.3", port, name="wrong.tls.test", certs=remote)
    smtpremoteutil.submit(inst, ["user@tls.test"], "Subject: t\r\n\r\nt\r\n")
    [msg] = good.wait_messages(1, inst=inst)
    assert msg.session.tls in ("TLSv1.2", "TLSv1.3")
    assert msg.session.sni == "mx.tls.test"
    # EHLO again after STARTTLS (RFC 3207 4.2), and STARTTLS only once.
    assert [c.split()[0] for c in msg.session.commands[:3]] == \
        ["EHLO", "STARTTLS", "EHLO"]
    wait_log(inst, r"TLS with mx.tls.test\[127.0.0.2\]:%d: TLSv1\.[23] \S+ "
             r"\d+ bits, verified \(level verify\)" % port)
    # The certificate names mx.tls.test, not wrong.tls.test: deferred.
    qid = smtpremoteutil.submit(inst, ["user@badtls.test"],
                                "Subject: w\r\n\r\nw\r\n")
    wait_log(inst, r"TLS with wrong.tls.test\[127.0.0.3\]:%d failed \(level "
             r"verify\)" % port)
    wait_log(inst, r"%s: to=<user@badtls.test>.*status=deferred \(451 4.7.5"
             % qid)
    assert not wrong.messages
    assert not mailutil.queue_empty(inst)
    # Opportunistic (the default level may, amx.test is not in the
    # policy): TLS, not verified.
    smtpremoteutil.submit(inst, ["user@amx.test"], "Subject: m\r\n\r\nm\r\n")
    msgs = good.wait_messages(2, inst=inst)
    assert msgs[1].session.tls is not None
    wait_log(inst, r"TLS with amx.test\[127.0.0.2\]:%d: .* not verified "
             r"\(level may\)" % port)


def test_helo_fallback_and_failed_opportunistic_tls(make_instance, certs,
                                                   dns, port, mtas):
    inst = make_system(make_instance, certs, dns, port)
    # mx1.pref.test refuses EHLO; amx.test (the same address, another
    # port) breaks STARTTLS, so the level may tries it again in clear.
    old = mtas("127.0.0.2", port, name="mx1.pref.test", ehlo=False)
    smtpremoteutil.submit(inst, ["user@pref.test"], "Subject: h\r\n\r\nh\r\n")
    [msg] = old.wait_messages(1, inst=inst)
    assert msg.session.helo == "mx.example.test"
    assert [c.split()[0] for c in msg.session.commands[:3]] == \
        ["EHLO", "HELO", "MAIL"]
    assert msg.mail == "FROM:<alice@example.test>"      # no extensions
    old.stop()
    broken = mtas("127.0.0.2", port, name="amx.test", certs=certs,
                  broken_tls=True)
    smtpremoteutil.submit(inst, ["user@amx.test"], "Subject: b\r\n\r\nb\r\n")
    [msg] = broken.wait_messages(1, inst=inst)
    assert msg.session.tls is None
    assert len(broken.sessions) == 2
    assert "STARTTLS" in broken.sessions[0].commands
    assert "STARTTLS" not in msg.session.commands
    wait_log(inst, r"TLS with amx.test\[127.0.0.2\]:%d failed \(level may\)"
             % port)


def test_tls_required_but_not_offered(make_instance, certs, dns, port, mtas):
    inst = make_system(make_instance, certs, dns, port, params={
        "smtp_tls_security_level": "encrypt"})
    mx1 = mtas("127.0.0.2", port, name="mx1.pref.test")
    qid = smtpremoteutil.submit(inst, ["user@pref.test"],
                                "Subject: e\r\n\r\ne\r\n")
    wait_log(inst, r"%s: to=<user@pref.test>.*status=deferred \(451 4.7.4 "
             r"TLS is required, but host mx1.pref.test\[127.0.0.2\]:%d did "
             r"not offer STARTTLS" % (qid, port))
    assert not mx1.messages


def test_outbound_class_binds_its_source_address(make_instance, certs, dns,
                                                  port, mtas):
    inst = make_system(make_instance, certs, dns, port, classes={
        "bulk": {"smtp_bind_address": "127.0.0.3"}})
    r = inst.ctl("mailbox", "set", "bob@example.test", "class=bulk")
    assert r.returncode == 0, r.stderr
    mx1 = mtas("127.0.0.2", port, name="mx1.pref.test")
    smtpremoteutil.submit(inst, ["from-alice@pref.test"],
                          "Subject: a\r\n\r\na\r\n")
    smtpremoteutil.submit(inst, ["from-bob@pref.test"],
                          "Subject: b\r\n\r\nb\r\n", user="bob@example.test")
    msgs = mx1.wait_messages(2, inst=inst)
    by_rcpt = {m.rcpt_addresses()[0]: m.client for m in msgs}
    assert by_rcpt == {"from-alice@pref.test": "127.0.0.1",
                       "from-bob@pref.test": "127.0.0.3"}
    wait_log(inst, r"to=<from-bob@pref.test>, relay=\S+, "
             r"transport=smtp-bulk, source=127.0.0.3, tls=\S+, "
             r"status=sent")


def test_null_mx_and_loops_bounce(make_instance, certs, dns, port, mtas):
    inst = make_system(make_instance, certs, dns, port)
    smtpremoteutil.submit(inst, ["user@nullmx.test"], "Subject: n\r\n\r\nn\r\n")
    smtpremoteutil.submit(inst, ["user@loop.test"], "Subject: l\r\n\r\nl\r\n")
    smtpremoteutil.submit(inst, ["user@loopaddr.test"],
                          "Subject: l2\r\n\r\nl2\r\n")
    bounces = mailutil.wait_messages(inst, "alice@example.test", 3)
    reports = "\n".join(bounce_report(b) for b in bounces)
    assert "Final-Recipient: rfc822; user@nullmx.test" in reports
    assert "Status: 5.1.10" in reports
    assert "null MX" in reports
    assert "Final-Recipient: rfc822; user@loop.test" in reports
    assert "Status: 5.4.6" in reports
    assert "mail for loop.test loops back to myself" in reports
    assert "mail for loopaddr.test loops back to myself" in reports
    wait_queue_empty(inst)


def test_size_dsn_smtputf8(make_instance, certs, dns, port, mtas):
    inst = make_system(make_instance, certs, dns, port)
    mx1 = mtas("127.0.0.2", port, name="mx1.pref.test",
               caps=("PIPELINING", "8BITMIME", "SIZE 2000", "DSN",
                     "ENHANCEDSTATUSCODES"))
    # Too big for the peer's SIZE: bounced before MAIL FROM.
    smtpremoteutil.submit(inst, ["big@pref.test"],
                          "Subject: big\r\n\r\n" + "x" * 70 + "\r\n" * 0 +
                          ("y" * 70 + "\r\n") * 60)
    # DSN options are passed on (xtext encoded).
    smtpremoteutil.submit(
        inst, ["dsn@pref.test"], "Subject: dsn\r\n\r\nd\r\n",
        mail_options=["RET=HDRS", "ENVID=env+2B1"],
        rcpt_options={"dsn@pref.test": ["NOTIFY=SUCCESS,FAILURE",
                                        "ORCPT=rfc822;orig+2Bx@pref.test"]})
    [msg] = mx1.wait_messages(1, inst=inst)
    assert " RET=HDRS" in msg.mail and " ENVID=env+2B1" in msg.mail, msg.mail
    assert " SIZE=" in msg.mail
    assert msg.rcpts == ["TO:<dsn@pref.test> NOTIFY=SUCCESS,FAILURE "
                         "ORCPT=rfc822;orig+2Bx@pref.test"]
    # A UTF-8 address needs SMTPUTF8, which this peer lacks.
    import smtplib
    s = smtplib.SMTP("127.0.0.1", inst.port("submission"), timeout=10)
    s.ehlo("client.test")
    s.starttls(context=tlsutil.client_context(certs))
    s.ehlo("client.test")
    s.login("alice@example.test", mailutil.PASSWORD)
    s.command_encoding = "utf-8"
    assert s.mail("alice@example.test", ["SMTPUTF8"])[0] == 250
    assert s.rcpt("j\u00fcrgen@pref.test")[0] == 250
    assert s.data(b"Subject: u\r\n\r\nu\r\n")[0] == 250
    s.quit()
    # Alice gets the size bounce and the SMTPUTF8 bounce; the success
    # notice she asked for is the DSN-capable peer's to send (RFC 3461
    # 5.2: NOTIFY went on with the message), not a second one from us.
    notices = mailutil.wait_messages(inst, "alice@example.test", 2)
    wait_queue_empty(inst)
    notices = mailutil.maildir_messages(inst, "alice@example.test")
    assert len(notices) == 2
    reports = "\n".join(bounce_report(b) for b in notices)
    assert "Action: delivered" not in reports
    assert "Final-Recipient: rfc822; big@pref.test" in reports
    assert "Status: 5.3.4" in reports
    assert "exceeds size limit 2000" in reports
    assert "Status: 5.6.7" in reports
    assert "SMTPUTF8 is required" in reports
    assert len(mx1.messages) == 1


def test_connection_reuse(make_instance, certs, dns, port, mtas):
    inst = make_system(make_instance, certs, dns, port, params={
        "smtp_connection_cache_time": "30s"}, agent_maxproc=1)
    mx1 = mtas("127.0.0.2", port, name="mx1.pref.test")
    for i in range(3):
        smtpremoteutil.submit(inst, ["user@pref.test"],
                              "Subject: %d\r\n\r\nx\r\n" % i)
        mx1.wait_messages(i + 1, inst=inst)
    assert len(mx1.sessions) == 1
    assert [c.split()[0] for c in mx1.sessions[0].commands].count("RSET") \
        == 2


def test_relayhost(make_instance, certs, dns, port, mtas):
    smarthost = mtas("127.0.0.3", port, name="smarthost.test")
    mx1 = mtas("127.0.0.2", port, name="mx1.pref.test")
    inst = make_system(make_instance, certs, dns, port, params={
        "relayhost": "[127.0.0.3]:%d" % port})
    smtpremoteutil.submit(inst, ["user@pref.test", "user@nowhere.test"],
                          "Subject: r\r\n\r\nr\r\n")
    msgs = smarthost.wait_messages(1, inst=inst)
    got = sorted(a for m in msgs for a in m.rcpt_addresses())
    if len(got) < 2:
        msgs = smarthost.wait_messages(2, inst=inst)
        got = sorted(a for m in msgs for a in m.rcpt_addresses())
    assert got == ["user@nowhere.test", "user@pref.test"]
    assert not mx1.messages
    wait_queue_empty(inst)


def test_backup_mx_relays_listed_recipients_to_the_primary(
        make_instance, certs, dns, port, mtas):
    primary = mtas("127.0.0.2", port, name="primary.relay.test")
    other = mtas("127.0.0.3", port, name="tertiary.relay.test")
    inst = make_system(make_instance, certs, dns, port)
    for args in (("domain", "add", "relay.test", "relay"),
                 ("relay", "add", "known@relay.test")):
        r = inst.ctl(*args)
        assert r.returncode == 0, r.stderr
    import smtplib
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    s.ehlo("client.outside.test")
    assert s.mail("someone@outside.test")[0] == 250
    code, text = s.rcpt("unknown@relay.test")
    assert code == 550, text
    assert s.rcpt("known@relay.test")[0] == 250
    assert s.data(b"Subject: backup\r\n\r\nvia the backup MX\r\n")[0] == 250
    # backup.test names its primary host (relayhost=mx.primary.test).
    assert s.mail("someone@outside.test")[0] == 250
    assert s.rcpt("known@backup.test")[0] == 250
    assert s.data(b"Subject: backup2\r\n\r\nnamed primary\r\n")[0] == 250
    s.quit()
    [msg] = primary.wait_messages(1, inst=inst)
    assert msg.rcpt_addresses() == ["known@relay.test"]
    assert msg.mail.startswith("FROM:<someone@outside.test>")
    assert b"via the backup MX" in msg.data
    # The worse-preference MX (after us) never gets relay.test's mail.
    [msg2] = other.wait_messages(1, inst=inst)
    assert msg2.rcpt_addresses() == ["known@backup.test"]
    wait_queue_empty(inst)
    # The primary is down: the mail waits for it; the MX host after us
    # (preference 30) must not get it.
    primary.stop()
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    s.ehlo("client.outside.test")
    assert s.mail("someone@outside.test")[0] == 250
    assert s.rcpt("known@relay.test")[0] == 250
    code, text = s.data(b"Subject: wait\r\n\r\nfor the primary\r\n")
    assert code == 250
    s.quit()
    qid = text.split()[-1].decode()
    # No connection was made: no source address.
    wait_log(inst, r"%s: to=<known@relay.test>, relay=relay.test, "
             r"transport=smtp, source=none, tls=none, "
             r"status=deferred \(451 4.4.1 connect to primary.relay.test"
             r"\[127.0.0.2\]" % qid)
    time.sleep(0.5)
    assert len(other.messages) == 1
    assert "tertiary.relay.test" not in inst.log()


# -- reload ---------------------------------------------------------------

def test_reload_new_relayhost_and_tls_policy_apply_at_once(
        make_instance, certs, dns, port, mtas):
    """After SIGHUP qmgr and every agent, idle ones included, run the new
    main.conf: the next message goes to the new relayhost and under the
    tightened TLS policy, and the log says when the old processes are
    gone."""
    old_relay = mtas("127.0.0.3", port, name="old-relay.test")
    new_relay = mtas("127.0.0.2", port, name="new-relay.test")  # no TLS
    inst = make_system(make_instance, certs, dns, port, params={
        "relayhost": "[127.0.0.3]:%d" % port, "max_idle": "300s"})
    smtpremoteutil.submit(inst, ["user@pref.test"], "Subject: 1\r\n\r\n1\r\n")
    old_relay.wait_messages(1, inst=inst)
    wait_queue_empty(inst)
    # An smtp agent and qmgr are up and idle with the old values.
    assert inst.service_status("smtp-out")["idle"] >= 1
    inst.params.update({"relayhost": "[127.0.0.2]:%d" % port,
                        "smtp_tls_policy": "127.0.0.2=encrypt"})
    inst.write_main_conf()
    inst.reload()
    wait_log(inst, r"reload complete: no process of the old configuration "
             r"is left")
    qid = smtpremoteutil.submit(inst, ["user@pref.test"],
                                "Subject: 2\r\n\r\n2\r\n")
    wait_log(inst, r"%s: to=<user@pref.test>.*status=deferred \(451 4.7.4 "
             r"TLS is required, but host 127.0.0.2\[127.0.0.2\]:%d did not "
             r"offer STARTTLS" % (qid, port), timeout=20)
    assert not new_relay.messages
    assert len(old_relay.messages) == 1


def test_reload_lets_qmgr_finish_a_delivery_once(make_instance, certs, dns,
                                                  port, mtas):
    """A reload while an agent is delivering: the old qmgr records that
    result before it exits and its successor does not deliver the message
    again."""
    started = []

    def slow(address, mta):
        started.append(address)
        time.sleep(3)
        return None
    relay = mtas("127.0.0.3", port, name="relay.test", rcpt_reply=slow)
    inst = make_system(make_instance, certs, dns, port, params={
        "relayhost": "[127.0.0.3]:%d" % port})
    qid = smtpremoteutil.submit(inst, ["user@pref.test"],
                                "Subject: s\r\n\r\ns\r\n")
    harness.wait_for(lambda: started, 15, what="the delivery to start")
    inst.reload()
    wait_log(inst, r"reload or stop: finishing 1 deliveries")
    relay.wait_messages(1, inst=inst)
    wait_log(inst, r"%s: to=<user@pref.test>.*status=sent" % qid)
    wait_log(inst, r"reload complete: no process of the old configuration "
             r"is left", timeout=15)
    wait_queue_empty(inst)
    # The new qmgr has started and rescanned; still one copy.
    wait_log(inst, r"(?s)reload complete.*qmgr.*started: active limit")
    time.sleep(2)
    assert len(relay.messages) == 1
    assert len(re.findall(r"qmgr\[\d+\]: %s: to=<user@pref.test>.*"
                          r"status=sent" % qid, inst.log())) == 1
    assert not re.search(r"qmgr\[\d+\]: %s: to=.*status=deferred" % qid,
                         inst.log())


# -- mynetworks ---------------------------------------------------------------

def plain_session(inst, service, source):
    """An SMTP session from the loopback address source, no TLS, no AUTH."""
    s = smtplib.SMTP("127.0.0.1", inst.port(service), timeout=10,
                     source_address=(source, 0))
    s.ehlo("host.isp.test")
    return s


def test_mynetworks_relay_without_auth_and_trusted_sender_class(
        make_instance, certs, dns, port, mtas):
    """The ISP's own hosts (mynetworks) relay through the MX and the
    submission port without AUTH, and their envelope sender picks the
    outbound class; any other client can do neither, so a forged local
    sender no longer picks a customer's class."""
    inst = make_system(make_instance, certs, dns, port, params={
        "mynetworks": "127.0.0.1/32 [::1]/128"}, classes={
        "bulk": {"smtp_bind_address": "127.0.0.3"}})
    for args in (("mailbox", "set", "bob@example.test", "class=bulk"),
                 ("alias", "add", "fwd@example.test", "far@pref.test")):
        r = inst.ctl(*args)
        assert r.returncode == 0, r.stderr
    mx1 = mtas("127.0.0.2", port, name="mx1.pref.test")
    # Not in mynetworks: no relaying on the MX, no mail without AUTH on
    # submission.
    s = plain_session(inst, "smtp", "127.0.0.4")
    assert s.mail("bob@example.test")[0] == 250
    code, text = s.rcpt("user@pref.test")
    assert (code, text[:9]) == (554, b"5.7.1 <us"), text
    s.quit()
    s = plain_session(inst, "submission", "127.0.0.4")
    assert s.mail("bob@example.test")[0] == 530
    s.quit()
    # In mynetworks: both relay, without AUTH.
    for service in ("smtp", "submission"):
        s = plain_session(inst, service, "127.0.0.1")
        assert s.sendmail("bob@example.test", ["%s@pref.test" % service],
                          b"Subject: trusted\r\n\r\nt\r\n") == {}
        s.quit()
    # A stranger's message to a forward, claiming bob as its sender.
    s = plain_session(inst, "smtp", "127.0.0.4")
    assert s.sendmail("bob@example.test", ["fwd@example.test"],
                      b"Subject: forged\r\n\r\nf\r\n") == {}
    s.quit()
    msgs = mx1.wait_messages(3, inst=inst)
    by_rcpt = {m.rcpt_addresses()[0]: m.client for m in msgs}
    # bob's class binds 127.0.0.3; the default agent leaves from .1.
    assert by_rcpt == {"smtp@pref.test": "127.0.0.3",
                       "submission@pref.test": "127.0.0.3",
                       "far@pref.test": "127.0.0.1"}, by_rcpt
    wait_log(inst, r"relay denied: user@pref.test from 127.0.0.4")


def test_success_notice_relayed_only_without_remote_dsn(
        make_instance, certs, dns, port, mtas):
    """RFC 3461 6.2: NOTIFY=SUCCESS to a server without DSN gets a
    "relayed" notice from us; to one with DSN, NOTIFY goes on and we
    send nothing (test_size_dsn_smtputf8)."""
    inst = make_system(make_instance, certs, dns, port)
    plain = mtas("127.0.0.3", port, name="wrong.tls.test",
                 caps=("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"))
    qid = smtpremoteutil.submit(
        inst, ["old@badtls.test"], "Subject: r\r\n\r\nr\r\n",
        rcpt_options={"old@badtls.test": ["NOTIFY=SUCCESS",
                                          "ORCPT=rfc822;o@badtls.test"]})
    [msg] = plain.wait_messages(1, inst=inst)
    assert msg.rcpts == ["TO:<old@badtls.test>"]       # no DSN to pass on
    [notice] = mailutil.wait_messages(inst, "alice@example.test", 1)
    report = bounce_report(notice)
    assert "Action: relayed" in report, report
    assert "Final-Recipient: rfc822; old@badtls.test" in report
    assert "Original-Recipient: rfc822; o@badtls.test" in report
    wait_log(inst, r"%s: sender relayed notice: " % qid)


def test_forward_keeps_the_original_recipient(make_instance, certs, dns,
                                              port, mtas):
    """A forward passes the address the sender wrote on as ORCPT (RFC 3461
    4.2) when the client gave none, keeps the client's own ORCPT, and
    qmgr's line names it as orig_to."""
    inst = make_system(make_instance, certs, dns, port)
    r = inst.ctl("alias", "add", "fwd@example.test", "far@pref.test")
    assert r.returncode == 0, r.stderr
    mx1 = mtas("127.0.0.2", port, name="mx1.pref.test")
    qid = smtpremoteutil.submit(inst, ["fwd@example.test"],
                                "Subject: f\r\n\r\nf\r\n")
    [msg] = mx1.wait_messages(1, inst=inst)
    assert msg.rcpts == ["TO:<far@pref.test> ORCPT=rfc822;fwd@example.test"]
    wait_log(inst, r"qmgr\[\d+\]: %s: to=<far@pref.test>, "
             r"orig_to=<fwd@example.test>, status=sent" % qid)
    smtpremoteutil.submit(
        inst, ["fwd@example.test"], "Subject: g\r\n\r\ng\r\n",
        rcpt_options={"fwd@example.test": ["ORCPT=rfc822;first@x.test"]})
    msgs = mx1.wait_messages(2, inst=inst)
    assert msgs[1].rcpts == ["TO:<far@pref.test> ORCPT=rfc822;first@x.test"]
