"""ispmailctl check: the caps along the chain, one host and several; and
the live side, "cap reached at X" logged and counted when qmgr waits on
its per-destination concurrency."""

import os
import re
import signal
import smtplib
import subprocess
import urllib.request

import pytest

import harness
import mailutil
import tlsutil


def write_host(tmp_path, name, services, params=None):
    """A configuration directory: main.conf and master.conf lines."""
    d = tmp_path / name
    d.mkdir()
    main = {"queue_directory": str(tmp_path / (name + "-queue")),
            "daemon_directory": harness.TOP_BUILDDIR,
            "mail_owner": harness.current_user()
            if os.geteuid() != 0 else "nobody"}
    main.update(params or {})
    (d / "main.conf").write_text(
        "".join("%s = %s\n" % kv for kv in main.items()))
    lines = []
    user = "-"
    for svc_name, listen, maxproc, command, opts in services:
        kind = "unix" if listen.startswith("private/") else "inet"
        line = "%s %s %s %s %d %s" % (svc_name, kind, listen, user,
                                      maxproc, command)
        for k, v in (opts or {}).items():
            line += " -o %s=%s" % (k, v)
        lines.append(line)
    (d / "master.conf").write_text("\n".join(lines) + "\n")
    return str(d)


def check(*dirs):
    return subprocess.run([harness.CTL, "-c", dirs[0], "check"]
                          + list(dirs[1:]), capture_output=True, text=True,
                          timeout=20)


def mx_host(tmp_path, smtpd_maxproc=128, params=None):
    return write_host(tmp_path, "mx", [
        ("smtp", "127.0.0.1:10025", smtpd_maxproc, "smtpd/smtpd", None),
        ("qmgr", "private/qmgr", 1, "qmgr/qmgr",
         {"service_keep_running": "yes"}),
        ("lmtp", "private/lmtp", 20, "smtp/smtp", None),
    ], dict({"route_backend": "ldap", "ldap_server_capacity": "32",
             "qmgr_destination_concurrency_limit": "20"}, **(params or {})))


def store_host(tmp_path, lmtpd_maxproc=10, imapd_maxproc=100,
               imap_client_limit=1):
    return write_host(tmp_path, "store", [
        ("lmtpd", "127.0.0.1:10024", lmtpd_maxproc, "lmtpd/lmtpd", None),
        ("imap", "127.0.0.1:10143", imapd_maxproc, "imapd/imapd",
         {"imap_client_limit": str(imap_client_limit)}),
    ], {"route_backend": "ldap", "ldap_server_capacity": "1000",
        "ldap_pool_size": "4"})


def proxy_host(tmp_path, maxproc=2, sessions=1000):
    return write_host(tmp_path, "proxy", [
        ("imap-proxy", "127.0.0.1:10993", maxproc, "proxyd/proxyd",
         {"proxy_front": "imap", "proxy_session_limit": str(sessions)}),
    ], {"route_backend": "ldap"})


def test_smtpd_outruns_directory(tmp_path):
    r = check(mx_host(tmp_path))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert ("directory: smtp maxproc 128 = 128 lookups in flight > "
            "ldap_server_capacity 32: lower those maxproc to a total of "
            "32 or raise") in r.stdout, r.stdout
    assert r.stdout.endswith("1 finding\n"), r.stdout


def test_balanced_configuration_passes(tmp_path):
    r = check(mx_host(tmp_path, smtpd_maxproc=30))
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.endswith("0 findings\n"), r.stdout
    assert "filter" not in r.stdout, r.stdout


def test_capacity_unknown_is_a_note(tmp_path):
    r = check(mx_host(tmp_path, params={"ldap_server_capacity": "0"}))
    assert r.returncode == 0, r.stdout
    assert "note: directory capacity unknown: set ldap_server_capacity" \
        in r.stdout


def test_service_override_counts(tmp_path):
    """-o in master.conf wins over main.conf (imap_client_limit): the
    store's IMAP capacity is maxproc x the override.  The directory sees
    an imapd process's lookup threads, min(imap_client_limit,
    ldap_pool_size) of them (imap_lookup.h); a client limit above
    ldap_pool_size only queues lookups, no finding."""
    store = store_host(tmp_path, imap_client_limit=8)
    proxy = proxy_host(tmp_path, maxproc=2, sessions=1000)
    r = check(store, proxy)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert ("proxyd -> imapd: proxyd sessions 2000 > imap maxproc 100 "
            "x imap_client_limit 8 = 800") in r.stdout, r.stdout
    assert "ldap_pool_size" not in r.stdout, r.stdout
    assert r.stdout.endswith("1 finding\n"), r.stdout
    # 100 processes x 100 sessions: 400 lookups (4 threads each), not
    # 10,000; with lmtpd's 10 within the directory's 1000.
    store2 = tmp_path / "big"
    store2.mkdir()
    r = check(store_host(store2, imap_client_limit=100))
    assert r.returncode == 0, r.stdout
    assert r.stdout.endswith("0 findings\n"), r.stdout
    # 300 processes: 1200 threads' lookups are more than it takes.
    store3 = tmp_path / "bigger"
    store3.mkdir()
    r = check(store_host(store3, imap_client_limit=100, imapd_maxproc=300))
    assert r.returncode == 1, r.stdout
    assert ("directory: lmtpd maxproc 10 + imap maxproc 300 x "
            "ldap_pool_size 4 = 1210 lookups in flight > "
            "ldap_server_capacity 1000") in r.stdout, r.stdout
    # Fewer sessions than threads: the sessions count.
    store4 = tmp_path / "few"
    store4.mkdir()
    r = check(store_host(store4, imap_client_limit=3, imapd_maxproc=400))
    assert ("imap maxproc 400 x imap_client_limit 3 = 1210 lookups") \
        in r.stdout, r.stdout


def test_chain_across_hosts(tmp_path):
    mx = mx_host(tmp_path, smtpd_maxproc=30)
    store = store_host(tmp_path, lmtpd_maxproc=10, imapd_maxproc=100)
    proxy = proxy_host(tmp_path, maxproc=2, sessions=1000)
    r = check(mx, store, proxy)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert ("%s: qmgr -> lmtpd: %s qmgr_destination_concurrency_limit 20 = "
            "20 LMTP sessions > lmtpd maxproc 10: lower "
            "qmgr_destination_concurrency_limit to 10 or raise lmtpd "
            "maxproc to 20" % (store, mx)) in r.stdout, r.stdout
    assert ("%s: proxyd -> imapd: proxyd sessions 2000 > imap maxproc 100 "
            "x imap_client_limit 1 = 100" % store) in r.stdout, r.stdout
    assert r.stdout.endswith("2 findings\n"), r.stdout
    # Matched: no findings.
    tmp2 = tmp_path / "ok"
    tmp2.mkdir()
    r = check(mx_host(tmp2, smtpd_maxproc=30),
              store_host(tmp2, lmtpd_maxproc=20, imapd_maxproc=100),
              proxy_host(tmp2, maxproc=1, sessions=100))
    assert r.returncode == 0, r.stdout


def filter_mx(tmp_path, name, maxproc, params):
    return write_host(tmp_path, name, [
        ("smtp", "127.0.0.1:10025", maxproc, "smtpd/smtpd", None),
        ("submission", "127.0.0.1:10587", 5, "smtpd/smtpd",
         {"smtpd_mode": "submission", "spamd_servers": ""}),
    ], dict({"spamd_servers": "127.0.0.1:783, 127.0.0.2:783",
             "clamd_servers": "127.0.0.1:3310"}, **params))


def test_filter_slots_and_capacity(tmp_path):
    """smtpd processes that scan vs this machine's filter slots, and every
    machine's scans vs the filter host's capacity."""
    # 100 scanning smtpd, 10 slots x 2 spamd hosts, 10 x 1 clamd host.
    mx = filter_mx(tmp_path, "mx", 100, {"filter_connection_limit": "10"})
    r = check(mx)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert ("%s: smtpd -> spamd pool: smtp maxproc 100 = 100 scans in "
            "flight > filter_connection_limit 10 x 2 hosts = 20 slots (the "
            "rest get 451 4.7.1): raise filter_connection_limit to 50 if the "
            "filter hosts can take it, or lower those maxproc to a total of "
            "20" % mx) in r.stdout, r.stdout
    # The submission service scans with clamd only (-o spamd_servers=).
    assert ("smtpd -> clamd pool: smtp maxproc 100 + submission maxproc 5 "
            "= 105 scans in flight > filter_connection_limit 10 x 1 host = "
            "10 slots") in r.stdout, r.stdout
    assert "note: filter capacity unknown: set filter_server_capacity" \
        in r.stdout
    assert r.stdout.endswith("2 findings\n"), r.stdout
    # Two machines, 30 slots each, into spamd hosts that serve 40.
    ok = {"filter_connection_limit": "30", "filter_server_capacity": "40",
          "clamd_servers": ""}
    mx1 = filter_mx(tmp_path, "mx1", 30, ok)
    mx2 = filter_mx(tmp_path, "mx2", 60, ok)
    r = check(mx1, mx2)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert ("%s: smtpd -> spamd 127.0.0.1:783: %s 30 + %s 30 = 60 scans in "
            "flight (smaller of scanning smtpd maxproc and "
            "filter_connection_limit) > filter_server_capacity 40: lower "
            "filter_connection_limit to 20 or raise the filter's children "
            "and filter_server_capacity to 60" % (mx1, mx1, mx2)) \
        in r.stdout, r.stdout
    assert "smtpd -> spamd 127.0.0.2:783: " in r.stdout, r.stdout
    assert r.stdout.endswith("2 findings\n"), r.stdout
    # One machine alone fits.
    r = check(mx1)
    assert r.returncode == 0, r.stdout
    assert r.stdout.endswith("0 findings\n"), r.stdout


def test_bad_directory(tmp_path):
    mx = mx_host(tmp_path)
    r = check(mx, str(tmp_path / "missing"))
    assert r.returncode == 1
    assert "ispmailctl: check:" in r.stderr
    r = check(mx, "-x")
    assert r.returncode == 2


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


def test_qmgr_cap_reached_is_not_a_failure(make_instance, certs):
    """With one delivery at a time per store host, a burst waits at the
    cap: logged as "cap reached at", counted, and all delivered."""
    port = harness.free_port()
    inst = make_instance(services=mailutil.delivery_services(port))
    inst.params.update(mailutil.delivery_params(inst, certs, port))
    inst.params.update({"smtpd_direct_delivery": "no",
                        "qmgr_destination_concurrency_limit": "1"})
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.start()
    # qmgr stopped while the mail arrives: then it has 8 jobs at once.
    qmgr = [p for p in inst.instance_pids()
            if "/qmgr/qmgr" in open("/proc/%d/cmdline" % p).read()]
    assert len(qmgr) == 1
    os.kill(qmgr[0], signal.SIGSTOP)
    try:
        s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
        for i in range(8):
            s.sendmail("sender@remote.test", ["alice@example.test"],
                       b"Subject: %d\r\n\r\nbody\r\n" % i)
        s.quit()
    finally:
        os.kill(qmgr[0], signal.SIGCONT)
    mailutil.wait_messages(inst, "alice@example.test", 8)
    log = inst.log()
    assert re.search(r"qmgr\[\d+\]: (\w+: )?cap reached at "
                     r"qmgr_destination_concurrency_limit: transport=lmtp",
                     log), log[-3000:]
    assert "failed" not in "\n".join(
        line for line in log.splitlines() if "cap reached" in line)
    r = inst.ctl("metrics")
    assert r.returncode == 0
    m = re.search(r'^ispmail_cap_reached_total\{at="qmgr_destination_'
                  r'concurrency_limit"\} (\d+)$', r.stdout, re.M)
    assert m and int(m.group(1)) >= 1, r.stdout


def test_chain_with_a_live_store_endpoint(make_instance, tmp_path):
    """The store host is a running instance read through its metrics
    endpoint (metricsd): its lmtpd and imapd capacity against the mx's
    qmgr concurrency and a proxy host's sessions from their configs."""
    store = make_instance(services=[
        mailutil.lmtpd_service("lmtpd", harness.free_port(), maxproc=4),
        harness.Service("imap", "imapd/imapd", maxproc=3,
                        options={"imap_client_limit": "5"}),
        harness.Service("metrics", "metricsd/metricsd", maxproc=1,
                        options={"service_keep_running": "yes"}),
    ])
    store.start()
    url = "http://127.0.0.1:%d/metrics" % store.port("metrics")

    def capacity():
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                body = resp.read().decode()
        except OSError:
            return False
        return 'program="lmtpd"} 4' in body and body
    text = harness.wait_for(capacity, timeout=10,
                            what="the master's capacity gauges")
    assert 'ispmail_service_capacity{service="imap",program="imapd"} 15' \
        in text, text

    mx = mx_host(tmp_path, smtpd_maxproc=30)
    proxy = proxy_host(tmp_path, maxproc=2, sessions=10)
    r = check(mx, proxy, "--metrics", url)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert ("%s: qmgr -> lmtpd: %s qmgr_destination_concurrency_limit 20 = "
            "20 LMTP sessions > lmtpd maxproc 4: lower "
            "qmgr_destination_concurrency_limit to 4 or raise lmtpd "
            "maxproc to 20" % (url, mx)) in r.stdout, r.stdout
    assert ("%s: proxyd -> imapd: proxyd sessions 20 > imap capacity 15 = "
            "15" % url) in r.stdout, r.stdout
    assert r.stdout.endswith("2 findings\n"), r.stdout
    # Matched to the store's caps: nothing to report.
    tmp2 = tmp_path / "ok"
    tmp2.mkdir()
    r = check(mx_host(tmp2, smtpd_maxproc=30, params={
        "qmgr_destination_concurrency_limit": "4"}),
        proxy_host(tmp2, maxproc=1, sessions=15), "--metrics", url)
    assert r.returncode == 0, (r.stdout, r.stderr)
    # An endpoint that does not answer is an error, not a pass.
    r = check(mx, "--metrics", "http://127.0.0.1:%d/metrics"
              % harness.free_port())
    assert r.returncode == 1 and "ispmailctl: check: http://" in r.stderr
