"""Metrics: the counter files, ispmailctl metrics, metricsd scraped by a
real Prometheus, the Grafana dashboard's metric names."""

import glob
import json
import os
import re
import shutil
import signal
import smtplib
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

import harness
import mailutil
import tlsutil

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
DASHBOARD = os.path.join(harness.TOP_SRCDIR, "conf", "grafana",
                         "ispmail.json")


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


def metrics_service():
    return harness.Service("metrics", "metricsd/metricsd", maxproc=1,
                           options={"service_keep_running": "yes"})


def make_system(make_instance, certs):
    port = harness.free_port()
    services = mailutil.delivery_services(port)
    services.append(metrics_service())
    inst = make_instance(services=services)
    inst.params.update(mailutil.delivery_params(inst, certs, port))
    # Through qmgr and the LMTP agent, so their counters are exercised.
    inst.params["smtpd_direct_delivery"] = "no"
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.start()
    return inst


def parse_metrics(text):
    """{series key: float} of an exposition, checking every line."""
    values = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            assert re.fullmatch(r"# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* "
                                r"(counter|gauge|histogram)", line), line
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*(\{[^{}]*\})?) '
                         r'(-?[0-9.]+)', line)
        assert m, "bad exposition line: %r" % line
        values[m.group(1)] = float(m.group(3))
    return values


def ctl_metrics(inst):
    r = inst.ctl("metrics")
    assert r.returncode == 0, r.stderr
    return parse_metrics(r.stdout)


def traffic(inst):
    """3 accepted messages, 2 unknown users, 1 relay attempt."""
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    s.ehlo("client.test")
    for i in range(3):
        assert s.mail("sender@remote.test")[0] == 250
        assert s.rcpt("alice@example.test")[0] == 250
        assert s.rcpt("nobody%d@example.test" % i)[0] == 550 \
            if i < 2 else True
        assert s.data(b"Subject: m%d\r\n\r\nbody\r\n" % i)[0] == 250
    assert s.mail("sender@remote.test")[0] == 250
    assert s.rcpt("victim@elsewhere.test")[0] == 554
    s.quit()
    mailutil.wait_messages(inst, "alice@example.test", 3)


def test_counters_survive_daemon_kill(make_instance, certs):
    inst = make_system(make_instance, certs)
    traffic(inst)
    inst.wait_for(lambda: ctl_metrics(inst).get(
        'ispmail_deliveries_total{result="sent",dsn="2.0.0"}') == 3,
        timeout=10, what="3 deliveries counted")
    m = ctl_metrics(inst)
    assert m['ispmail_smtpd_accepted_total{service="smtp"}'] == 3
    assert m['ispmail_smtpd_rejects_total{reason="unknown_user"}'] == 2
    assert m['ispmail_smtpd_rejects_total{reason="relay"}'] == 1
    assert m['ispmail_smtpd_sessions_total{service="smtp"}'] == 1
    assert m['ispmail_delivery_hop_total{transport="lmtp",nexthop="%s",'
             'result="sent"}' % inst.params["lmtp_local_nexthop"]] == 3
    assert m['ispmail_directory_lookup_seconds_count{backend="file"}'] >= 6
    assert m['ispmail_directory_lookup_seconds_bucket{backend="file",'
             'le="+Inf"}'] == m['ispmail_directory_lookup_seconds_count'
                                '{backend="file"}']
    assert m['ispmail_service_maxproc{service="smtp"}'] == 4
    assert m['ispmail_queue_messages{queue="incoming"}'] == 0
    assert m['ispmail_metrics_dropped_total'] == 0
    # Kill every smtpd and qmgr process: their counts stay.
    victims = [p for p in inst.instance_pids()
               if re.search(r"/(smtpd|qmgr)( |$)", open(
                   "/proc/%d/cmdline" % p).read().replace("\0", " "))]
    assert victims
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    inst.wait_for(lambda: ctl_metrics(inst).get(
        'ispmail_service_crashes_total{service="qmgr"}', 0) >= 1,
        timeout=10, what="the master saw qmgr die")
    m2 = ctl_metrics(inst)
    assert m2['ispmail_smtpd_accepted_total{service="smtp"}'] == 3
    assert m2['ispmail_deliveries_total{result="sent",dsn="2.0.0"}'] == 3


def test_queue_age(make_instance, certs):
    """The age of the oldest message comes from its queue id."""
    inst = make_system(make_instance, certs)
    hold = os.path.join(inst.queue_dir, "hold")
    # A queue id from an hour ago (qfile.h: six base62 digits of time).
    alphabet = ("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                "abcdefghijklmnopqrstuvwxyz")
    t = int(time.time()) - 3600
    digits = ""
    for _ in range(6):
        digits = alphabet[t % 62] + digits
        t //= 62
    name = digits + "0000" + "Z"
    path = os.path.join(hold, name)
    open(path, "w").close()
    m = ctl_metrics(inst)
    assert m['ispmail_queue_messages{queue="hold"}'] == 1
    assert 3590 <= m['ispmail_queue_oldest_age_seconds{queue="hold"}'] \
        <= 3700


def http_get(port, path, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def test_metricsd_http(make_instance, certs):
    inst = make_system(make_instance, certs)
    port = inst.port("metrics")
    status, headers, body = http_get(port, "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    values = parse_metrics(body)
    assert values['ispmail_service_maxproc{service="metrics"}'] == 1
    assert http_get(port, "/")[0] == 404
    assert http_get(port, "/metrics", method="POST")[0] == 405
    # metricsd runs as the instance's user, never root (the master's
    # user when it is not root).
    pids = [p for p in inst.instance_pids()
            if "metricsd" in open("/proc/%d/cmdline" % p).read()]
    assert len(pids) == 1
    assert os.stat("/proc/%d" % pids[0]).st_uid == os.geteuid()


def prom_query(port, expr):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (
        port, urllib.parse.urlencode({"query": expr}))
    with urllib.request.urlopen(url, timeout=10) as resp:
        answer = json.load(resp)
    assert answer["status"] == "success", answer
    return [(r["metric"], float(r["value"][1]))
            for r in answer["data"]["result"]]


def test_prometheus_scrapes(make_instance, certs, tmp_path):
    assert os.access(PROMETHEUS, os.X_OK), \
        "prometheus not found: apt-get install prometheus"
    inst = make_system(make_instance, certs)
    traffic(inst)
    prom_port = harness.free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: ispmail\n"
        "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
        % inst.port("metrics"))
    proc = subprocess.Popen(
        [PROMETHEUS, "--config.file=%s" % config,
         "--storage.tsdb.path=%s" % (tmp_path / "data"),
         "--web.listen-address=127.0.0.1:%d" % prom_port],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prom.log", "w"))
    try:
        def scraped():
            try:
                return prom_query(prom_port, 'ispmail_smtpd_accepted_total'
                                  '{service="smtp"}')
            except (OSError, ValueError):
                return None
        result = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            result = scraped()
            if result and result[0][1] == 3:
                break
            time.sleep(0.5)
        assert result and result[0][1] == 3, (
            result, (tmp_path / "prom.log").read_text()[-2000:])
        assert result[0][0]["job"] == "ispmail"

        def one(expr):
            rows = prom_query(prom_port, expr)
            assert len(rows) == 1, (expr, rows)
            return rows[0][1]
        assert one('ispmail_smtpd_rejects_total{reason="unknown_user"}') \
            == 2
        assert one('ispmail_smtpd_rejects_total{reason="relay"}') == 1
        assert one('sum(ispmail_deliveries_total{result="sent"})') == 3
        assert one('ispmail_service_maxproc{service="lmtpd"}') == 4
        assert one('ispmail_queue_messages{queue="deferred"}') == 0
        assert one('up{job="ispmail"}') == 1
        # The dashboard's p99 query runs against these series.
        assert one('histogram_quantile(0.99, sum by (le) ('
                   'ispmail_directory_lookup_seconds_bucket))') >= 0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def source_metric_names():
    """Every metric family the C sources emit."""
    names = {"ispmail_queue_messages", "ispmail_queue_oldest_age_seconds",
             "ispmail_metrics_dropped_total"}
    call = re.compile(r'metrics_(inc|add|set|observe)\(\s*"([a-z0-9_]+)"')
    files = glob.glob(os.path.join(harness.TOP_SRCDIR, "*", "*.c")) + \
        glob.glob(os.path.join(harness.TOP_SRCDIR, "common", "*", "*.c"))
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            for m in call.finditer(f.read()):
                if m.group(1) == "observe":
                    for suffix in ("_bucket", "_count", "_sum"):
                        names.add(m.group(2) + suffix)
                else:
                    names.add(m.group(2))
    return names


def test_grafana_dashboard_metrics_exist():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    assert dash["panels"], "no panels"
    known = source_metric_names()
    assert "ispmail_smtpd_rejects_total" in known
    referenced = set()
    for panel in dash["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            referenced |= set(re.findall(r"ispmail_[a-z0-9_]+",
                                         target["expr"]))
    assert referenced
    missing = sorted(referenced - known)
    assert not missing, "dashboard references unknown metrics: %s" % missing
