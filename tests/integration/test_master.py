"""ispmail-master against tests/ispmail-testsvc: caps, reuse, idle exit,
crash throttling, reload, stop, locking, configuration checks, address
families, privilege drop.  Each test runs its own instance (conftest)."""

import os
import pwd
import re
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

import harness
from harness import (MASTER, connection_refused, parent_pid, pid_alive,
                     testsvc, wait_for)

HELLO = re.compile(r"hello service=(\S+) pid=(\d+) uid=(\d+) gid=(\d+)")


def hello(client):
    """Read the greeting; a dict with service, pid, uid, gid."""
    line = client.readline()
    m = HELLO.fullmatch(line)
    assert m, "expected a hello line, got %r" % line
    return {"service": m.group(1), "pid": int(m.group(2)),
            "uid": int(m.group(3)), "gid": int(m.group(4))}


def session(inst, name, *commands):
    """Connect, read hello, run commands, quit; (hello, answers)."""
    with inst.connect(name) as c:
        h = hello(c)
        answers = [c.command(cmd) for cmd in commands]
        assert c.command("quit") == "bye"
    return h, answers


def test_service_answers(instance_factory):
    inst = instance_factory([testsvc("echo", maxproc=2)])
    h, answers = session(inst, "echo", "echo hello there",
                         "param queue_directory", "param no_such_thing")
    assert h["service"] == "echo"
    assert parent_pid(h["pid"]) == inst.pid
    assert h["uid"] == os.geteuid()
    assert answers == ["hello there", inst.queue_dir, "unknown"]
    st = inst.service_status("echo")
    assert st["type"] == "inet"
    assert st["listen"] == inst.service("echo").address
    assert st["maxproc"] == 2
    assert st["spawns"] >= 1


def test_cap_holds(instance_factory):
    """5 clients on a service with maxproc 2: two are served at a time,
    the others wait in the listen backlog and are served later."""
    inst = instance_factory([testsvc("capped", maxproc=2)])
    results = []
    errors = []
    lock = threading.Lock()

    def client():
        try:
            with inst.connect("capped") as c:
                h = hello(c)
                start = time.monotonic()
                answer = c.command("sleep 1")
                end = time.monotonic()
                c.command("quit")
            with lock:
                results.append((h["pid"], start, end, answer))
        except Exception as e:  # reported below, in the test's thread
            with lock:
                errors.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(5)]
    for t in threads:
        t.start()
    max_total = 0
    while any(t.is_alive() for t in threads):
        st = inst.service_status("capped")
        max_total = max(max_total, st["total"], st["busy"])
        time.sleep(0.05)
    for t in threads:
        t.join()
    assert errors == []
    assert [r[3] for r in results] == ["ok"] * 5
    assert len({r[0] for r in results}) <= 2
    # At no moment were more than two sessions being served.
    events = sorted([(r[1], 1) for r in results] + [(r[2], -1) for r in results],
                    key=lambda e: (e[0], e[1]))
    serving = peak = 0
    for _, delta in events:
        serving += delta
        peak = max(peak, serving)
    assert peak <= 2
    assert max_total <= 2
    st = inst.service_status("capped")
    assert st["cap_hits"] >= 1
    assert st["total"] <= 2
    inst.wait_for_log(r"process limit")


def test_process_reuse(instance_factory):
    inst = instance_factory([testsvc("reuse", maxproc=1)])
    pids = [session(inst, "reuse")[0]["pid"] for _ in range(3)]
    assert len(set(pids)) == 1, pids


def test_waiting_connections_taken_without_status_reports(
        instance_factory, tmp_path):
    """A process that finishes a connection while the next one already
    waits takes it at once, still busy: the master hears no idle and busy
    report in between (two messages and a wakeup of its own less per
    connection under load), only the idle report once none waits."""
    inst = instance_factory([testsvc("chain", maxproc=1)])
    # The first connection is always reported idle (the master then
    # knows the process has served: a later crash is no start failure).
    pid = session(inst, "chain")[0]["pid"]
    trace = str(tmp_path / "strace.out")
    tracer = subprocess.Popen(
        ["strace", "-qq", "-o", trace, "-e", "trace=sendto", "-p",
         str(pid)], stderr=subprocess.PIPE)
    try:
        wait_for(lambda: os.path.exists(trace), 10, what="strace")
        time.sleep(0.5)
        first = inst.connect("chain")
        assert hello(first)["pid"] == pid
        # maxproc 1: these two wait in the listen queue behind the first.
        waiting = [inst.connect("chain") for _ in range(2)]
        st = inst.service_status("chain")
        assert (st["busy"], st["idle"], st["total"]) == (1, 0, 1), st
        assert first.command("quit") == "bye"
        first.close()
        for c in waiting:
            with c:
                assert hello(c)["pid"] == pid
                assert c.command("echo same process") == "same process"
                assert c.command("quit") == "bye"
        wait_for(lambda: inst.service_status("chain")["idle"] == 1, 5.0,
                 what="the process to report idle")
    finally:
        tracer.terminate()
        tracer.wait(10)
    with open(trace) as f:
        reports = [line for line in f if line.startswith("sendto(3,")]
    # Busy for the first, idle after the last; without the shortcut
    # busy and idle for each of the three.
    assert len(reports) == 2, reports
    st = inst.service_status("chain")
    assert (st["busy"], st["idle"], st["total"], st["spawns"]) == \
        (0, 1, 1, 1), st
    assert session(inst, "chain")[0]["pid"] == pid


def test_max_use_one_gives_new_process_each_time(instance_factory):
    inst = instance_factory([testsvc("once", maxproc=1,
                                     options={"max_use": 1})])
    pids = [session(inst, "once")[0]["pid"] for _ in range(3)]
    assert len(set(pids)) == 3, pids


def test_idle_exit(instance_factory):
    inst = instance_factory([testsvc("idler", maxproc=2,
                                     options={"max_idle": "1s"})])
    pid = session(inst, "idler")[0]["pid"]
    assert inst.service_status("idler")["total"] >= 1
    wait_for(lambda: inst.service_status("idler")["total"] == 0, 4.0,
             what="the idle process to exit")
    wait_for(lambda: not pid_alive(pid), 2.0, what="pid %d to exit" % pid)


def test_crash_throttling(instance_factory):
    inst = instance_factory(
        [testsvc("crasher", "crash-on-connect", maxproc=2),
         testsvc("healthy", maxproc=1)],
        params={"service_throttle_time": "2s"})
    family, address = inst.sockaddr("crasher")
    deadline = time.monotonic() + 3.0
    attempts = 0
    while attempts < 10 and time.monotonic() < deadline:
        attempts += 1
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(0.25)
        try:
            s.connect(address)
            s.recv(100)
        except OSError:
            pass
        finally:
            s.close()
        time.sleep(0.05)
    st = wait_for(lambda: (lambda s: s if s["throttled"] == 1 else None)(
        inst.service_status("crasher")), 2.0, what="throttled=1")
    assert st["spawns"] <= 3, st
    assert st["abnormal_exits"] >= 1
    inst.wait_for_log(r"(?i)throttl")
    # The other service is not affected.
    h, answers = session(inst, "healthy", "echo still here")
    assert answers == ["still here"]
    assert inst.service_status("healthy")["throttled"] == 0


def test_abnormal_exit_counted(instance_factory):
    inst = instance_factory([testsvc("fragile", maxproc=1)])
    assert inst.service_status("fragile")["abnormal_exits"] == 0
    with inst.connect("fragile") as c:
        pid = hello(c)["pid"]
        c.send("crash")
        assert c.readline() == ""        # the process died: EOF
    wait_for(lambda: inst.service_status("fragile")["abnormal_exits"] == 1,
             3.0, what="abnormal_exits == 1")
    inst.wait_for_log(r"(?m)^.*\b%d\b.*(signal|status|abnormal).*$" % pid)


def test_reload(instance_factory):
    keep = testsvc("keep", maxproc=1)
    gone = testsvc("gone", maxproc=1)
    inst = instance_factory([keep, gone])
    gone_addr = inst.sockaddr("gone")
    # Connections in progress across the reload.
    busy_keep = inst.connect("keep")
    busy_gone = inst.connect("gone")
    hello(busy_keep)
    hello(busy_gone)
    busy_keep.send("sleep 2")
    busy_gone.send("sleep 2")
    keep.maxproc = 3
    added = testsvc("added", maxproc=2)
    inst.reload([keep, added])
    st = inst.status()
    assert list(st.services) == ["keep", "added"]
    assert st["keep"]["maxproc"] == 3
    h, answers = session(inst, "added", "echo new")
    assert h["service"] == "added" and answers == ["new"]
    # Neither connection was dropped by the reload.
    assert busy_keep.readline() == "ok"
    assert busy_gone.readline() == "ok"
    assert busy_gone.command("quit") == "bye"
    busy_keep.close()
    busy_gone.close()
    # Once its last process is gone, the removed service's port is closed.
    wait_for(lambda: connection_refused(*gone_addr), 5.0,
             what="the removed service to refuse connections")
    # keep now serves up to three at once.
    clients = [inst.connect("keep") for _ in range(3)]
    try:
        assert len({hello(c)["pid"] for c in clients}) == 3
    finally:
        for c in clients:
            c.close()


def test_sigterm_stops_everything(instance_factory):
    inst = instance_factory([testsvc("busy", maxproc=2)],
                            params={"master_stop_timeout": "1s"})
    clients = [inst.connect("busy") for _ in range(2)]
    pids = [hello(c)["pid"] for c in clients]
    for c in clients:
        c.send("sleep 30")
    wait_for(lambda: inst.service_status("busy")["busy"] == 2, 3.0,
             what="both processes busy")
    start = time.monotonic()
    inst.signal(signal.SIGTERM)
    rc = inst.proc.wait(1 + 2)
    assert rc == 0
    assert time.monotonic() - start <= 3.0
    wait_for(lambda: not any(pid_alive(p) for p in pids), 1.0,
             what="the children %r to be gone" % pids)
    assert inst.instance_pids() == []
    assert not os.path.exists(inst.pid_path)
    assert not os.path.exists(inst.status_path)
    for c in clients:
        c.close()


def test_second_master_refused(instance_factory):
    inst = instance_factory([testsvc("one", maxproc=1)])
    second = subprocess.run([MASTER, "-f", "-c", inst.config_dir],
                            capture_output=True, text=True, timeout=10)
    assert second.returncode == 1
    assert "already running" in second.stdout + second.stderr
    # The first one is unharmed.
    assert inst.status().master["pid"] == inst.pid
    session(inst, "one")


def run_check(inst):
    return subprocess.run([MASTER, "-t", "-c", inst.config_dir],
                          capture_output=True, text=True, timeout=10)


def test_check_good_config(make_instance):
    inst = make_instance([testsvc("a", maxproc=2),
                          testsvc("b", type="unix", listen="private/b")])
    inst.write_main_conf()
    inst.write_master_conf()
    r = run_check(inst)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(inst.status_path)


def test_check_files_uris_and_lists(make_instance, tmp_path):
    """-t checks what it can without serving: the files parameters name
    exist and their readers can read them, directory URIs, DNS servers
    and network lists parse; each problem is one line naming the
    parameter."""
    import mailutil
    inst = make_instance(mailutil.smtpd_services())
    secret = tmp_path / "srs-secrets"
    secret.write_text("s3cret\n")
    secret.chmod(0)
    good = tmp_path / "cert.pem"
    good.write_text("x\n")
    inst.params.update({
        "tls_cert_file": str(tmp_path / "missing-cert.pem"),
        "tls_key_file": str(tmp_path),
        "srs_secret_file": str(secret),
        "srs_domain": "srs.example.test",
        "route_backend": "ldap",
        "ldap_server_uris": "ldap://127.0.0.1 http//not-a-uri",
        "ldap_address_attributes": "mail uid",
        "mynetworks": "127.0.0.1/32 10.0.0.1/8",
        "dns_servers": "not.an.address",
    })
    inst.write_main_conf()
    inst.write_master_conf()
    r = run_check(inst)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.splitlines()
    want = [
        "tls_cert_file = %s: No such file or directory"
        % (tmp_path / "missing-cert.pem"),
        "tls_key_file = %s: not a regular file" % tmp_path,
        "ldap_server_uris: http//not-a-uri: not an ldap://, ldaps:// or "
        "ldapi:// URI",
        "ldap_address_attributes: uid: not mail or mailLocalAddress",
        "mynetworks: ",
        "dns_servers: ",
    ]
    if os.geteuid() != 0:
        # Root reads any file: only another user can be refused.
        want.append("srs_secret_file = %s: not readable by user %s"
                    % (secret, harness.current_user()))
    for w in want:
        assert any(l.startswith(w) for l in lines), (w, r.stderr)
    assert len(lines) == len(want), r.stderr
    # Fixed: clean.
    secret.chmod(0o600)
    inst.params.update({
        "tls_cert_file": str(good), "tls_key_file": str(good),
        "ldap_server_uris": "ldap://127.0.0.1 ldapi:///",
        "ldap_address_attributes": "mail",
        "mynetworks": "127.0.0.1/32", "dns_servers": "127.0.0.1"})
    inst.write_main_conf()
    r = run_check(inst)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("value,problem", [
    ("mail mailLocalAddress", None),
    ("mailLocalAddress, MAIL", None),
    ("mailLocalAddress", "ldap_address_attributes: mail is missing"),
    ("mail mail", "ldap_address_attributes: mail: not mail or "
     "mailLocalAddress, or given twice"),
])
def test_check_ldap_address_attributes(make_instance, value, problem):
    """-t parses ldap_address_attributes (ispmail-ldap(5)): mail is
    required, mailLocalAddress optional, nothing else and no name
    twice."""
    inst = make_instance([testsvc("a", maxproc=1)])
    inst.params.update({"route_backend": "ldap",
                        "ldap_address_attributes": value})
    inst.write_main_conf()
    inst.write_master_conf()
    r = run_check(inst)
    if problem is None:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 1, r.stderr
        assert r.stderr.splitlines() == [problem], r.stderr


BAD_LINES = {
    "unknown type": "bad tcp 127.0.0.1:{port} {user} 1 {cmd}",
    "bad maxproc": "bad inet 127.0.0.1:{port} {user} lots {cmd}",
    "zero maxproc": "bad inet 127.0.0.1:{port} {user} 0 {cmd}",
    "unknown -o parameter": "bad inet 127.0.0.1:{port} {user} 1 {cmd} "
                            "-o no_such_parameter=1",
    "duplicate name": "good inet 127.0.0.1:{port} {user} 1 {cmd}",
}


@pytest.mark.parametrize("problem", sorted(BAD_LINES))
def test_check_bad_line(make_instance, problem):
    inst = make_instance([testsvc("good", maxproc=1)])
    inst.write_main_conf()
    inst.write_master_conf()
    with open(inst.master_conf, "a") as f:
        f.write(BAD_LINES[problem].format(
            port=harness.free_port(), user=inst.user, cmd=harness.TESTSVC)
            + "\n")
    # Line 1 is the harness's comment, line 2 "good", line 3 the bad one.
    r = run_check(inst)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "master.conf:3" in r.stderr, r.stderr


def test_ipv6_service(instance_factory):
    if not harness.ipv6_available():
        pytest.skip("no IPv6 loopback (::1) on this host")
    inst = instance_factory([testsvc("six", listen="[::1]", maxproc=1)])
    assert inst.service("six").address.startswith("[::1]:")
    h, answers = session(inst, "six", "echo v6")
    assert answers == ["v6"]
    assert inst.sockaddr("six")[0] == socket.AF_INET6


def test_unix_service(instance_factory):
    inst = instance_factory([testsvc("local", type="unix",
                                     listen="private/test", maxproc=1)])
    family, path = inst.sockaddr("local")
    assert family == socket.AF_UNIX
    assert path == os.path.join(inst.queue_dir, "private/test")
    h, answers = session(inst, "local", "echo over unix")
    assert h["service"] == "local" and answers == ["over unix"]
    assert inst.service_status("local")["type"] == "unix"


def test_children_exit_when_master_dies(instance_factory):
    inst = instance_factory([testsvc("orphan", maxproc=2)])
    pid = session(inst, "orphan")[0]["pid"]
    assert pid_alive(pid)
    inst.proc.kill()
    inst.proc.wait()
    wait_for(lambda: not pid_alive(pid), 3.0,
             what="the idle child %d to exit after the master died" % pid)


def test_privilege_drop(instance_factory, require_root):
    nobody = pwd.getpwnam("nobody")
    inst = instance_factory([testsvc("unpriv", user="nobody", maxproc=1)])
    h, _ = session(inst, "unpriv")
    assert h["uid"] == nobody.pw_uid
    assert h["gid"] == nobody.pw_gid


def test_uid0_alias_refused(make_instance, require_root):
    """A service line whose user is uid 0 but not written "root" (here
    "-" with mail_owner = root) is refused."""
    inst = make_instance([testsvc("sneaky", user="-", maxproc=1)],
                         params={"mail_owner": "root"})
    inst.write_main_conf()
    inst.write_master_conf()
    r = run_check(inst)
    assert r.returncode == 1
    assert "master.conf:2" in r.stderr and "uid 0" in r.stderr, r.stderr
    inst.start(wait=False)
    assert inst.proc.wait(10) == 1


def test_reload_counts_only_own_children(instance_factory):
    """Reloads that restart one service must not add the other services'
    children to its counts: after each reload every service's total and
    busy match the processes alive for it."""
    services = [testsvc(n, maxproc=20) for n in ("one", "two", "three")]
    inst = instance_factory(services)
    clients = []
    try:
        for s in services:
            for _ in range(2):
                c = inst.connect(s.name)
                hello(c)
                c.send("sleep 30")
                clients.append(c)
        wait_for(lambda: all(inst.service_status(s.name)["busy"] == 2
                             for s in services), 3.0,
                 what="two busy processes per service")
        for n in range(4):
            # A changed -o restarts "one"; its busy children retire.
            services[0].options = {"max_idle": "%ds" % (100 + n)}
            inst.reload(services)
            for s in services:
                alive = inst.service_pids(s.name)
                st = inst.service_status(s.name)
                assert st["total"] == len(alive), (s.name, st, alive)
                assert st["busy"] == len(alive), (s.name, st, alive)
                assert st["busy"] <= st["maxproc"], (s.name, st)
    finally:
        for c in clients:
            c.close()


def test_no_chmod_or_chown_by_path_in_private(make_instance, require_root,
                                              tmp_path):
    """private/ belongs to mail_owner, who can swap a socket the master
    just bound for a link to any file: the master must never chmod or
    chown by path there (it sets the mode and owner before the node
    exists).  strace records every such call of a real start; the
    sockets still get their modes and owners."""
    nobody = pwd.getpwnam("nobody")
    inst = make_instance([testsvc("local", type="unix", listen="private/t",
                                  user="nobody", maxproc=1)])
    inst.write_main_conf()
    inst.write_master_conf()
    trace = str(tmp_path / "trace")
    logf = open(inst.log_path, "ab")
    tracer = subprocess.Popen(
        ["strace", "-f", "-qq", "-o", trace, "-e",
         "trace=chmod,fchmodat,chown,lchown,fchownat",
         MASTER, "-f", "-c", inst.config_dir],
        stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
        start_new_session=True)
    logf.close()
    try:
        wait_for(lambda: os.path.exists(inst.status_path)
                 and inst.status().master["pid"] > 0, 10.0,
                 what="the traced master to answer")
        master_pid = inst.status().master["pid"]
        h, answers = session(inst, "local", "echo traced")
        assert answers == ["traced"] and h["uid"] == nobody.pw_uid
        st = os.lstat(os.path.join(inst.queue_dir, "private", "t"))
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o660
        assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
        st = os.lstat(inst.status_path)
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
        os.kill(master_pid, signal.SIGTERM)
        tracer.wait(15)
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()
    private = os.path.join(inst.queue_dir, "private")
    calls = [l for l in open(trace) if private in l]
    assert calls == [], calls
