"""ispmailctl baseline: a synthetic fortnight teaches the weekly pattern;
a normal Monday raises no alarm, a spike raises exactly one (log line,
output, hook)."""

import calendar
import os
import pwd
import random
import re
import stat
import subprocess

import harness

# Monday 2 November 2026, 00:00 UTC.
MONDAY = calendar.timegm((2026, 11, 2, 0, 0, 0))
WEEK = 7 * 24 * 3600


def usual(t, figure):
    """Business hours (weekdays 9-17) are busy; nights and weekends
    quiet."""
    day = ((t - MONDAY) // 86400) % 7      # 0 = Monday
    hour = (t // 3600) % 24
    busy = day < 5 and 9 <= hour < 17
    base = 200 if busy else 20
    return base * (10 if figure == "accept_rate" else 1)


def samples(start, minutes, rng, spike=None):
    lines = []
    for m in range(minutes):
        t = start + 60 * m
        for figure in ("queue_incoming", "accept_rate"):
            value = usual(t, figure) * rng.uniform(0.9, 1.1)
            if spike and figure == spike[0] and spike[1] <= t < spike[2]:
                value *= 6
            lines.append("%d %s %.2f" % (t, figure, value))
    return "\n".join(lines) + "\n"


def feed(inst, text):
    env = dict(os.environ, TZ="UTC")
    return subprocess.run([harness.CTL, "-c", inst.config_dir, "baseline",
                           "feed"], input=text, capture_output=True,
                          text=True, env=env, timeout=120)


def test_week_then_spike(make_instance, tmp_path):
    inst = make_instance()
    hook_out = tmp_path / "hook.out"
    hook = tmp_path / "hook.sh"
    hook.write_text("#!/bin/sh\necho \"$@\" >> %s\n" % hook_out)
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    inst.params["baseline_alarm_command"] = str(hook)
    inst.write_main_conf()
    os.makedirs(inst.queue_dir, exist_ok=True)
    rng = random.Random(19)

    # Two synthetic weeks: every slot learns 120 samples, no alarm.
    r = feed(inst, samples(MONDAY, 2 * 7 * 1440, rng))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "40320 samples, 0 alarms\n", r.stdout

    # A normal Monday: nothing.
    r = feed(inst, samples(MONDAY + 2 * WEEK, 1440, rng))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "2880 samples, 0 alarms\n", r.stdout
    assert not hook_out.exists()

    # Tuesday 10:00-10:20 the inbound queue is 6x: exactly one alarm,
    # though it stays high for 20 minutes.
    tuesday = MONDAY + 2 * WEEK + 86400
    spike = ("queue_incoming", tuesday + 10 * 3600,
             tuesday + 10 * 3600 + 20 * 60)
    r = feed(inst, samples(tuesday, 1440, rng, spike=spike))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "2880 samples, 1 alarm", r.stdout
    assert len(lines) == 2, r.stdout
    assert lines[0].startswith("alarm: queue_incoming "), lines[0]
    assert "x the usual" in lines[0] and lines[0].endswith(
        "for Tuesday 10:00"), lines[0]
    ratio = float(lines[0].split(" is ")[1].split("x")[0])
    assert 5.0 <= ratio <= 7.0, lines[0]
    assert "alarm: queue_incoming" in r.stderr      # the log line
    hook_lines = hook_out.read_text().splitlines()
    assert len(hook_lines) == 1 and hook_lines[0].startswith(
        "queue_incoming "), hook_lines

    # The spike did not teach the slot: Tuesday 10:00 is still ~200.
    env = dict(os.environ, TZ="UTC")
    r = subprocess.run([harness.CTL, "-c", inst.config_dir, "baseline",
                        "show", "queue_incoming"], capture_output=True,
                       text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    row = [line for line in r.stdout.splitlines()
           if line.startswith("queue_incoming Tuesday 10:00 ")]
    assert len(row) == 1, r.stdout
    mean = float(row[0].split(" mean ")[1].split()[0])
    assert 180 <= mean <= 220, row


def test_bad_input(make_instance):
    inst = make_instance()
    inst.write_main_conf()
    os.makedirs(inst.queue_dir, exist_ok=True)
    for text in ("x queue 1\n", "1 queue\n", "1 bad/name 1\n",
                 "1 queue nan\n", "1 q 1 extra\n", "1 q " + "9" * 300 + "\n"):
        r = feed(inst, text)
        assert r.returncode == 1, (text, r.stdout)
        assert "ispmailctl: baseline: line 1" in r.stderr, r.stderr


def test_sample_takes_rates_from_the_counters(make_instance, tmp_path):
    """baseline sample (what cron runs each minute) reads the queue and
    turns the counters into rates per minute."""
    import smtplib
    import mailutil
    import tlsutil
    certs = tlsutil.make_certs()
    port = harness.free_port()
    inst = make_instance(services=mailutil.delivery_services(port))
    inst.params.update(mailutil.delivery_params(inst, certs, port))
    # Only this test's readings: the master's own sampling off.
    inst.params["baseline_sample_time"] = "0"
    inst.write_main_conf()
    mailutil.provision(inst)
    inst.start()
    env = dict(os.environ, TZ="UTC")

    def sample(t):
        r = subprocess.run([harness.CTL, "-c", inst.config_dir, "baseline",
                            "sample", "-t", str(t)], capture_output=True,
                           text=True, env=env, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout

    t0 = MONDAY + 10 * 3600
    # First reading: gauges and load only (5), rates need a second one.
    assert sample(t0) == "5 samples, 0 alarms\n"
    s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=10)
    for i in range(6):
        s.sendmail("sender@remote.test", ["alice@example.test"],
                   b"Subject: %d\r\n\r\nbody\r\n" % i)
    s.quit()
    mailutil.wait_messages(inst, "alice@example.test", 6)
    # Two minutes later: 6 accepted = 3 a minute; and the disks' I/O.
    assert sample(t0 + 120) == "9 samples, 0 alarms\n"
    r = subprocess.run([harness.CTL, "-c", inst.config_dir, "baseline",
                        "show", "accept_rate"], capture_output=True,
                       text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("accept_rate Monday 10:00 mean 3.00 spread 0.00 "
                        "samples 1\n"), r.stdout
    r = subprocess.run([harness.CTL, "-c", inst.config_dir, "baseline",
                        "show", "delivery_rate"], capture_output=True,
                       text=True, env=env, timeout=30)
    assert "mean 3.00" in r.stdout, r.stdout
    r = subprocess.run([harness.CTL, "-c", inst.config_dir, "baseline",
                        "show", "io_sectors_rate"], capture_output=True,
                       text=True, env=env, timeout=30)
    assert re.fullmatch(r"io_sectors_rate Monday 10:00 mean \d+\.\d\d "
                        r"spread 0\.00 samples 1\n", r.stdout), r.stdout


def test_master_samples_by_itself(make_instance):
    """No cron: the master takes a sample every baseline_sample_time, in a
    child as mail_owner."""
    inst = make_instance()
    inst.params["baseline_sample_time"] = "1s"
    inst.write_main_conf()
    inst.start()

    def figures():
        r = subprocess.run([harness.CTL, "-c", inst.config_dir, "baseline",
                            "show", "queue_incoming"], capture_output=True,
                           text=True, timeout=30)
        m = re.search(r" samples (\d+)$", r.stdout.strip())
        return int(m.group(1)) if m else 0

    harness.wait_for(lambda: figures() >= 3, timeout=20,
                     what="3 samples by the master")
    r = subprocess.run([harness.CTL, "-c", inst.config_dir, "baseline",
                        "show", "io_sectors_rate"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and " samples " in r.stdout, (r.stdout,
                                                          r.stderr)
    # As root the child runs as mail_owner, whose store it is.
    store = os.path.join(inst.queue_dir, "baseline", "store")
    owner = inst.base_params()["mail_owner"]
    assert os.stat(store).st_uid == pwd.getpwnam(owner).pw_uid
