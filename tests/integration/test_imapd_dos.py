"""imapd under denial-of-service attempts: one client must not stall the
other sessions of its process (imap_client_limit above 1, maxproc 1, so
every session shares one process and one event loop)."""

import imaplib
import socket
import time

import harness
import tlsutil
from imapdutil import (PASSWORD, USER, Raw, login, make_imap_instance)

# Generous against a slow sanitizer build; a stall is tls_handshake_timeout.
PROMPT = 3.0


def one_process_instance(make_instance, params=None, tls=None):
    """imap (and imaps with tls) served by one imapd process each."""
    p = {"imap_client_limit": "10"}
    p.update(params or {})
    extra = ()
    if tls is not None:
        extra = [harness.Service("imaps", "imapd/imapd", maxproc=1,
                                 options={"tls_wrapper_mode": "yes"})]
    return make_imap_instance(make_instance, params=p, tls=tls, maxproc=1,
                              services_extra=extra)


def timed_noop(client):
    t0 = time.monotonic()
    typ, _ = client.noop()
    assert typ == "OK"
    return time.monotonic() - t0


def assert_others_prompt(first, connect):
    """While a stalled client waits, the running session first and a new
    one (connect() returns it logged in) are answered promptly."""
    assert timed_noop(first) < PROMPT
    t0 = time.monotonic()
    second = connect()
    assert time.monotonic() - t0 < PROMPT
    assert timed_noop(second) < PROMPT
    for c in (first, second):
        c.logout()


def test_silent_implicit_tls_client_does_not_stall_others(make_instance):
    certs = tlsutil.make_certs()
    inst, _ = one_process_instance(make_instance, tls=certs, params={
        "tls_handshake_timeout": "30s"})
    ctx = tlsutil.client_context(certs)
    # The process runs and serves a first session.
    first = imaplib.IMAP4_SSL("127.0.0.1", inst.port("imaps"),
                              ssl_context=ctx, timeout=40)
    first.login(USER, PASSWORD)
    # A client that connects and never sends its ClientHello...
    silent = socket.create_connection(("127.0.0.1", inst.port("imaps")))
    time.sleep(0.5)

    # ...leaves the first session and a new handshake answered at once.
    def connect():
        c = imaplib.IMAP4_SSL("127.0.0.1", inst.port("imaps"),
                              ssl_context=ctx, timeout=40)
        c.login(USER, PASSWORD)
        return c
    assert_others_prompt(first, connect)
    silent.close()


def test_silent_starttls_client_does_not_stall_others(make_instance):
    certs = tlsutil.make_certs()
    inst, _ = one_process_instance(make_instance, tls=certs, params={
        "tls_handshake_timeout": "30s"})
    first = login(inst)
    # STARTTLS accepted, then not a byte of the handshake.
    silent = Raw(inst)
    assert silent.cmd("STARTTLS", "s1")[-1].startswith("s1 OK")
    time.sleep(0.5)
    assert_others_prompt(first, lambda: login(inst))
    silent.close()


def test_handshake_deadline_still_ends_a_silent_client(make_instance):
    certs = tlsutil.make_certs()
    inst, _ = one_process_instance(make_instance, tls=certs, params={
        "tls_handshake_timeout": "1s"})
    silent = socket.create_connection(("127.0.0.1", inst.port("imaps")),
                                      timeout=10)
    t0 = time.monotonic()
    assert silent.recv(100) == b""
    assert 0.8 < time.monotonic() - t0 < 8
    silent.close()
    assert "TLS handshake with 127.0.0.1 failed: TLS handshake: timeout" \
        in inst.log()
