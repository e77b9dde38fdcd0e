"""ispmailctl: status against a running master, config, usage errors."""

import os
import re
import socket
import threading

from harness import testsvc

COLUMNS = ["SERVICE", "TYPE", "LISTEN", "USER", "BUSY", "IDLE", "MAXPROC",
           "CAP-HITS", "CRASHES", "SPAWNS", "STRESS", "STATE"]


def test_status_table(instance_factory):
    inst = instance_factory([testsvc("alpha", maxproc=2),
                             testsvc("beta", type="unix",
                                     listen="private/beta", maxproc=1)])
    with inst.connect("alpha") as c:
        assert c.readline().startswith("hello ")
    r = inst.ctl("status")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    m = re.fullmatch(r"master pid (\d+), up ((\d+[dhm])*\d+s), 2 services",
                     lines[0])
    assert m, lines[0]
    assert int(m.group(1)) == inst.pid
    assert lines[1].split() == COLUMNS
    # Then the queues (all empty here) and anvil's drop counters (no
    # anvil in this instance: status says so and still succeeds).
    assert lines[-2] == ("queue: incoming 0 active 0 deferred 0 hold 0 "
                         "corrupt 0")
    assert lines[-1] == "drops: unknown (anvil is not running)"
    rows = {line.split()[0]: line.split() for line in lines[2:-2]}
    assert list(rows) == ["alpha", "beta"]
    assert rows["alpha"][1:4] == ["inet", inst.service("alpha").address,
                                  inst.user]
    assert rows["beta"][1:4] == ["unix", "private/beta", inst.user]
    for name, maxproc in (("alpha", "2"), ("beta", "1")):
        row = rows[name]
        assert len(row) == len(COLUMNS), row
        assert row[COLUMNS.index("MAXPROC")] == maxproc
        assert row[COLUMNS.index("STATE")] == "ok"
        assert all(v.isdigit() for v in row[4:10]), row
    assert int(rows["alpha"][COLUMNS.index("SPAWNS")]) >= 1
    # The table agrees with the status socket.
    st = inst.status()
    assert int(rows["alpha"][COLUMNS.index("CRASHES")]) \
        == st["alpha"]["abnormal_exits"]


def test_status_master_not_running(make_instance):
    inst = make_instance()
    inst.write_main_conf()
    r = inst.ctl("status")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == ("ispmailctl: master is not running (no status "
                        "socket at %s)\n" % inst.status_path)


def test_status_stale_socket(make_instance):
    """A socket file nobody listens on (a master that was SIGKILLed)."""
    inst = make_instance()
    inst.write_main_conf()
    os.makedirs(os.path.dirname(inst.status_path))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(inst.status_path)
    r = inst.ctl("status")
    assert r.returncode == 1
    assert "master is not running" in r.stderr


def fake_socket(path, expected_request, answer, remove=False):
    """A unix socket at path that reads one request and, if it is
    expected_request, sends answer (bytes); with remove, the socket file
    goes after the one connection.  Returns the thread serving it."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def serve():
        with server:
            conn, _ = server.accept()
            with conn:
                conn.settimeout(5)
                request = b""
                while not request.endswith(b"\n\n"):
                    chunk = conn.recv(1024)
                    if not chunk:
                        break
                    request += chunk
                if request == expected_request:
                    conn.sendall(answer)
        if remove:
            os.unlink(path)
    t = threading.Thread(target=serve)
    t.start()
    return t


def fake_status_socket(inst, answer):
    """A status socket that reads the request and sends answer (bytes);
    returns the thread serving it (one connection)."""
    os.makedirs(os.path.dirname(inst.status_path))
    return fake_socket(inst.status_path, b"request=status\n\n", answer)


def test_status_malformed_answers(make_instance):
    """A broken or hostile peer gets a message and exit 1, never a crash;
    values are shown without their control bytes."""
    inst = make_instance()
    inst.write_main_conf()
    for answer, message in [
            (b"no equals sign\n\n", "reading the answer"),
            (b"service=x\nbusy=1\n", "reading the answer"),   # EOF
            (b"error=no such request\n\n", "master: no such request"),
            (b"end=1\npid=abc\n\n", "malformed end record")]:
        t = fake_status_socket(inst, answer)
        r = inst.ctl("status")
        t.join()
        os.unlink(inst.status_path)
        os.rmdir(os.path.dirname(inst.status_path))
        assert r.returncode == 1, (answer, r.stdout)
        assert message in r.stderr, (answer, r.stderr)
    t = fake_status_socket(inst, b"service=evil%0A%1B[2Jname\ntype=inet\n"
                           b"throttled=1\n\nend=1\npid=7\nuptime=3725\n"
                           b"services=1\n\n")
    r = inst.ctl("status")
    t.join()
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "master pid 7, up 1h2m5s, 1 service"
    row = r.stdout.splitlines()[2].split()
    assert row[0] == "evil??[2Jname"
    assert row[1] == "inet" and row[2] == "-" and row[-1] == "throttled"
    assert "\x1b" not in r.stdout


def test_status_usage(make_instance):
    inst = make_instance()
    inst.write_main_conf()
    r = inst.ctl("status", "extra")
    assert r.returncode == 2
    assert "usage" in r.stderr


def main_conf_settings(inst):
    settings = {}
    with open(inst.main_conf) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, _, value = line.partition("=")
                settings[name.strip()] = value.strip()
    return settings


def test_config_n_shows_main_conf(make_instance):
    inst = make_instance(params={"max_use": "7", "syslog_name": "it-ctl"})
    inst.write_main_conf()
    r = inst.ctl("config", "-n")
    assert r.returncode == 0, r.stderr
    # What main.conf set, and the directory -c named (like an -o).
    settings = main_conf_settings(inst)
    settings["config_directory"] = inst.config_dir
    expected = ["%s = %s" % kv for kv in sorted(settings.items())]
    assert r.stdout.splitlines() == expected


def test_config_n_with_override(make_instance):
    inst = make_instance()
    inst.write_main_conf()
    r = inst.ctl("-o", "max_use=9", "config", "-n", "max_use")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "max_use = 9\n"


def test_config_named(make_instance):
    inst = make_instance()
    inst.write_main_conf()
    r = inst.ctl("config", "queue_directory")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "queue_directory = %s\n" % inst.queue_dir
    d = inst.ctl("config", "-d", "queue_directory")
    assert d.returncode == 0, d.stderr
    assert d.stdout.startswith("queue_directory = ")
    assert d.stdout != r.stdout


def test_config_unknown_name(make_instance):
    inst = make_instance()
    inst.write_main_conf()
    r = inst.ctl("config", "no_such_parameter")
    assert r.returncode == 1
    assert "no_such_parameter" in r.stderr


def test_unknown_command(make_instance):
    inst = make_instance()
    inst.write_main_conf()
    r = inst.ctl("frobnicate")
    assert r.returncode == 2
    assert "unknown command" in r.stderr
    assert "usage:" in r.stderr


def test_usage_errors(make_instance):
    inst = make_instance()
    inst.write_main_conf()
    assert inst.ctl().returncode == 2                       # no command
    assert inst.ctl("-x", "status").returncode == 2         # bad option
    bad = inst.ctl("-o", "no_such_parameter=1", "config")
    assert bad.returncode == 2
    assert "no_such_parameter" in bad.stderr


def test_bad_main_conf(make_instance):
    inst = make_instance()
    inst.write_main_conf()
    with open(inst.main_conf, "a") as f:
        f.write("max_use = lots\n")
    r = inst.ctl("config", "-n")
    assert r.returncode == 1
    assert "main.conf" in r.stderr


def fake_anvil(inst, answer):
    """An anvil socket that answers "counters" with answer (bytes)."""
    path = os.path.join(os.path.dirname(inst.status_path), "anvil")
    return fake_socket(path, b"request=counters\n\n", answer, remove=True)


def test_status_drops_from_a_hostile_anvil(instance_factory):
    """The drops line shows what anvil answers, made printable, and
    says "unknown" for an answer it cannot use; status still exits 0."""
    inst = instance_factory([testsvc("alpha")])
    cases = [
        (b"status=ok\n\n", "drops: none"),
        (b"status=ok\ndrop=smtp junk_command_limit 3\n"
         b"drop=x%1B[2J%0Ay timeout 1\n\n",
         "drops: smtp junk_command_limit 3, x?[2J?y timeout 1"),
        (b"status=error\nreason=no\n\n",
         "drops: unknown (anvil: anvil refused the request)"),
        (b"status=ok\n" + b"drop=a b 1\n" * 1001 + b"\n",
         "drops: unknown (anvil: "),
        (b"status=ok\ndrop=%zz\n\n", "drops: unknown (anvil: "),
        (b"status=ok\n", "drops: unknown (anvil: "),
    ]
    for answer, expect in cases:
        t = fake_anvil(inst, answer)
        r = inst.ctl("status")
        t.join()
        assert r.returncode == 0, r.stderr
        last = r.stdout.splitlines()[-1]
        assert last.startswith(expect) if expect.endswith("(anvil: ") \
            else last == expect, (answer[:60], last)
        assert r.stdout.splitlines()[-2].startswith("queue: ")
