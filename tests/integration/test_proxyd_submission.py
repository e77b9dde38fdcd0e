"""proxyd's submission front: swaks logs in through the proxy (STARTTLS on
the 587 listener, implicit TLS on the 465 one), proxyd relays to the
outbound smtpd with XCLIENT, and the queued message's Received: line and
auth user name the client and its login; the outbound smtpd's per-login
rate limit answers 4xx through the proxy."""

import re
import subprocess
import uuid

import pytest

import harness
import mailutil
import proxydutil
import tlsutil

OUTBOUND = "127.0.0.5"
CLIENT = proxydutil.CLIENT_ADDR
USER = "alice@example.test"
PASSWORD = mailutil.PASSWORD


@pytest.fixture
def pair(make_instance):
    certs = tlsutil.make_certs()
    out = make_instance(services=[harness.Service(
        "submission", "smtpd/smtpd", maxproc=4,
        listen=OUTBOUND, options={"smtpd_mode": "submission"})],
        params=dict(mailutil.base_params(None, certs),
                    proxy_trusted_networks="127.0.0.1/32",
                    smtpd_login_message_rate_limit="2"),
        name="outbound")
    out.write_main_conf()
    mailutil.provision(out)
    out.write_master_conf()
    out.start()
    proxy_services = [
        harness.Service("submission", "proxyd/proxyd", maxproc=2,
                        options={"proxy_front": "submission"}),
        harness.Service("submissions", "proxyd/proxyd", maxproc=2,
                        options={"proxy_front": "submission",
                                 "tls_wrapper_mode": "yes"}),
    ]
    proxy = make_instance(services=proxy_services, params=dict(
        mailutil.base_params(None, certs),
        myhostname="proxy.example.test",
        proxy_submission_hosts=OUTBOUND,
        proxy_backend_port_submission=str(out.port("submission"))),
        name="proxy")
    proxy.write_main_conf()
    mailutil.provision(proxy)
    proxy.start()
    return out, proxy, certs


def swaks(proxy, certs, service, *args):
    tls = ["--tls"] if service == "submission" else ["--tlsc"]
    return subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port",
         str(proxy.port(service)), "--local-interface", CLIENT,
         "--timeout", "15", "--from", USER, "--to", "bob@example.test",
         "--helo", "client.example.test", "--auth", "PLAIN",
         "--auth-user", USER, "--auth-password", PASSWORD,
         "--tls-verify", "--tls-ca-path", certs["ca"]] + tls + list(args),
        capture_output=True, text=True, timeout=60)


def queued(inst, marker):
    found = [q for q in map(mailutil.read_queue_file,
                            mailutil.queue_files(inst))
             if marker.encode() in q["message"]]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("service", ["submission", "submissions"])
def test_submission_reaches_outbound_smtpd_with_the_client(pair, service):
    out, proxy, certs = pair
    marker = uuid.uuid4().hex
    r = swaks(proxy, certs, service, "--header", "Subject: " + marker)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^<[-~] +235 ", r.stdout, re.M), r.stdout
    q = queued(out, marker)
    received, _ = mailutil.split_received(q["message"])
    assert re.match(rb"Received: from client\.example\.test "
                    rb"\(\S* ?\[127\.0\.0\.9\]\)", received), received
    assert q["auth_user"] == USER, q
    assert q["client_addr"] == CLIENT, q
    out.wait_for_log(r"XCLIENT from 127\.0\.0\.1: client=127\.0\.0\.9")


def test_wrong_password_and_no_auth(pair):
    out, proxy, certs = pair
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port",
         str(proxy.port("submission")), "--timeout", "15", "--from", USER,
         "--to", "bob@example.test", "--tls", "--tls-ca-path", certs["ca"],
         "--auth", "PLAIN", "--auth-user", USER, "--auth-password", "bad"],
        capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert re.search(r"^<~\* +535 5\.7\.8", r.stdout, re.M), r.stdout
    # MAIL without AUTH is refused by the proxy itself.
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port",
         str(proxy.port("submission")), "--timeout", "15", "--from", USER,
         "--to", "bob@example.test", "--tls", "--tls-ca-path", certs["ca"]],
        capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert re.search(r"530 5\.7\.0", r.stdout), r.stdout


def test_sending_rate_limit_through_the_proxy(pair):
    out, proxy, certs = pair
    for i in range(2):
        r = swaks(proxy, certs, "submission")
        assert r.returncode == 0, r.stdout + r.stderr
    r = swaks(proxy, certs, "submission")
    assert r.returncode != 0
    assert re.search(r"451 4\.7\.1 .*sending rate exceeded", r.stdout,
                     re.I), r.stdout


def test_outbound_down_is_a_temporary_failure(pair):
    out, proxy, certs = pair
    out.stop()
    r = swaks(proxy, certs, "submission")
    assert r.returncode != 0
    assert re.search(r"454 4\.7\.0", r.stdout), r.stdout
