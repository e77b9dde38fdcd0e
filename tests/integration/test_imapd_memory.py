"""What an idle logged-in session costs a multi-session imapd process
(imap_multi.h): sessions that each fetched a large message body and
then wait for their next command keep neither their 16 KiB stream
buffers (stream_set_release_idle) nor the stack below their live
frames, nor, over TLS, OpenSSL's record buffers
(SSL_MODE_RELEASE_BUFFERS), yet every one of them still works.  The
growth of the process's anonymous memory divided by the sessions is
bounded here; bench/imap-load measures the PSS against Dovecot's."""

import imaplib
import time

import tlsutil
from imapdutil import PASSWORD, USER, deliver, login, make_imap_instance
from smtpremoteutil import assert_no_sanitizer_reports
from test_imapd_multi import imapd_pids
from test_proxyd_memory import built_with_asan

SESSIONS = 50
# Per session, a plain build measured about 10 KiB (its selected
# mailbox's state and a page of stack included), more with the C
# library's moving mmap threshold, 40 KiB before idle sessions released
# their buffers and stack; an ASan
# build holds freed memory in its quarantine.
BOUND_KIB = 12
BOUND_ASAN_KIB = 2048
# Over TLS a plain build measured 19 KiB (OpenSSL's connection state),
# 31 to 35 KiB while idle connections kept their record buffers.
BOUND_TLS_KIB = 25


def anonymous_kib(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Anonymous:"):
                return int(line.split()[1])
    raise AssertionError("no Anonymous line for %d" % pid)


def fetch_big(c, body):
    assert c.select("INBOX")[0] == "OK"
    typ, data = c.fetch("1", "(BODY.PEEK[])")
    assert typ == "OK" and data[0][1] == body, typ
    assert c.noop()[0] == "OK"


def multi_instance(make_instance, tls=None):
    return make_imap_instance(make_instance, tls=tls, params={
        "imap_client_limit": str(SESSIONS + 10),
        "imap_client_connection_count_limit": "0",
        "max_use": "10000",
    })


def growth_per_session(pid, base, bound):
    """Anonymous memory growth per session, once within bound or after
    a few seconds: each session trims its stack right after its last
    reply."""
    deadline = time.monotonic() + 5
    while True:
        per = (anonymous_kib(pid) - base) / SESSIONS
        if per <= bound or time.monotonic() > deadline:
            return per
        time.sleep(0.1)


def test_idle_sessions_after_a_large_fetch_stay_small(make_instance):
    inst, store = multi_instance(make_instance)
    body = b"Subject: big\r\n\r\n" + b"".join(
        b"line %07d of a large message\r\n" % i for i in range(10000))
    deliver(store, body.decode())
    # The process's own growth (its heap's high-water of a FETCH) is
    # in the base: one session fetched and went idle first.
    warm = login(inst)
    fetch_big(warm, body)
    pids = imapd_pids(inst)
    assert len(pids) == 1, pids
    pid = pids[0]
    base = anonymous_kib(pid)
    sessions = []
    for _ in range(SESSIONS):
        c = login(inst)
        fetch_big(c, body)
        sessions.append(c)
    assert imapd_pids(inst) == [pid]
    bound = BOUND_ASAN_KIB if built_with_asan(pid) else BOUND_KIB
    per = growth_per_session(pid, base, bound)
    assert per <= bound, "%.1f KiB a session" % per
    # Parked and released, every session still answers in full, in
    # an order other than the one they idled in.
    for c in reversed(sessions):
        fetch_big(c, body)
    for c in sessions + [warm]:
        assert c.logout()[0] == "BYE"
    assert_no_sanitizer_reports(inst)


def test_idle_tls_sessions_stay_small(make_instance):
    certs = tlsutil.make_certs()
    inst, store = multi_instance(make_instance, tls=certs)
    deliver(store, "Subject: small\r\n\r\nHello.\r\n")
    ctx = tlsutil.client_context(certs)

    def tls_session():
        c = imaplib.IMAP4("127.0.0.1", inst.port("imap"), timeout=20)
        c.starttls(ssl_context=ctx)
        c.login(USER, PASSWORD)
        assert c.select("INBOX") == ("OK", [b"1"])
        return c

    warm = tls_session()
    pid = imapd_pids(inst)[0]
    base = anonymous_kib(pid)
    sessions = [tls_session() for _ in range(SESSIONS)]
    assert imapd_pids(inst) == [pid]
    bound = BOUND_ASAN_KIB if built_with_asan(pid) else BOUND_TLS_KIB
    per = growth_per_session(pid, base, bound)
    assert per <= bound, "%.1f KiB a session" % per
    for c in reversed(sessions):
        typ, data = c.fetch("1", "(BODY.PEEK[])")
        assert typ == "OK" and data[0][1].endswith(b"Hello.\r\n"), data
    for c in sessions + [warm]:
        assert c.logout()[0] == "BYE"
    assert_no_sanitizer_reports(inst)
