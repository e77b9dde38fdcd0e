"""imapd's directory lookups off the loop (imap_lookup.h): with a real
slapd as the routing directory and every session in one imapd process
(maxproc 1, the default imap_client_limit), a login whose LDAP lookup
hangs holds up no other session of the process; a lookup past the
deadline is a temporary failure, never a bad password; a storm of
logins still all succeed; logins queued for a lookup thread wait in
order and without polling."""

import imaplib
import os
import re
import threading
import time

import slapd as slapd_fixture
from imapdutil import PASSWORD, USER, deliver, login, make_imap_instance, \
    message
from test_imapd_multi import PROMPT, imapd_pids, loop_wakeups, \
    unread_by, wait_for


def ldap_imap_instance(make_instance, server, tmp_path, **extra):
    """imapd on one process whose routing directory is server; no
    lookup cache, so every login asks slapd."""
    params = slapd_fixture.ispmail_params(
        server, tmp_path, ldap_cache_positive_ttl="0",
        ldap_cache_negative_ttl="0", **extra)
    del params["store_owner"]     # make_imap_instance's
    return make_imap_instance(make_instance, params=params, maxproc=1)


def unread_by_slapd(server):
    """What slapd has not read: a stopped slapd's pending requests."""
    return unread_by(server.port)


class Login(threading.Thread):
    """A login (LOGIN over imaplib) on a thread of its own: result is
    ("OK", connection), ("NO", text) or ("error", exception)."""

    def __init__(self, inst, password=PASSWORD, user=USER):
        super().__init__(daemon=True)
        self.inst = inst
        self.user = user
        self.password = password
        self.result = None
        self.elapsed = None
        self.conn = imaplib.IMAP4("127.0.0.1", inst.port("imap"),
                                  timeout=60)

    def run(self):
        t0 = time.monotonic()
        try:
            self.conn.login(self.user, self.password)
            self.result = ("OK", self.conn)
        except imaplib.IMAP4.error as e:
            self.result = ("NO", str(e))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.result = ("error", e)
        self.elapsed = time.monotonic() - t0


def stalled_login(inst, server):
    """A Login, started, whose request to the paused server waits
    there unread."""
    stalled = Login(inst)
    stalled.start()
    # The login's search (or bind) waits, unread, at slapd.
    wait_for(lambda: unread_by_slapd(server) > 0,
             "the login's request at slapd")
    return stalled


def test_stalled_directory_holds_up_only_the_login(make_instance, tmp_path):
    with slapd_fixture.Slapd(tmp_path) as server:
        inst, store = ldap_imap_instance(make_instance, server, tmp_path,
                                         ldap_search_timeout="20s")
        deliver(store, message("one"))
        c = login(inst)
        assert c.select("INBOX") == ("OK", [b"1"])
        server.pause()
        try:
            stalled = stalled_login(inst, server)
            for _ in range(3):
                t0 = time.monotonic()
                assert c.noop()[0] == "OK"
                typ, data = c.fetch("1", "(BODY.PEEK[])")
                took = time.monotonic() - t0
                assert typ == "OK" and b"Subject: one" in data[0][1], data
                assert took < PROMPT, (
                    "NOOP+FETCH took %.1fs while a login waited for "
                    "the directory" % took)
            assert stalled.is_alive(), stalled.result
            assert len(imapd_pids(inst)) == 1, imapd_pids(inst)
        finally:
            server.resume()
        stalled.join(30)
        assert stalled.result is not None and stalled.result[0] == "OK", \
            stalled.result
        conn = stalled.result[1]
        assert conn.select("INBOX") == ("OK", [b"1"])
        conn.logout()
        c.logout()


def test_lookup_past_the_deadline_is_a_temporary_failure(
        make_instance, tmp_path):
    with slapd_fixture.Slapd(tmp_path) as server:
        # One lookup thread: the second login queues behind the first.
        inst, store = ldap_imap_instance(
            make_instance, server, tmp_path, ldap_search_timeout="2s",
            ldap_pool_size="1")
        c = login(inst)
        assert c.select("INBOX")[0] == "OK"
        server.pause()
        try:
            logins = [Login(inst), Login(inst, password="wrong")]
            for one in logins:
                one.start()
            t0 = time.monotonic()
            assert c.noop()[0] == "OK"
            assert time.monotonic() - t0 < PROMPT
            for one in logins:
                one.join(30)
        finally:
            server.resume()
        for one in logins:
            assert one.result is not None and one.result[0] == "NO", \
                one.result
            # Not a verdict on the password: the client should retry.
            assert "[UNAVAILABLE]" in one.result[1], one.result
            assert "AUTHENTICATIONFAILED" not in one.result[1]
            # Queue (up to 2s) plus the search's own 2s, and slack.
            assert one.elapsed < 12, one.elapsed
        log = inst.log()
        assert not re.search(r"login failed user=%s" % re.escape(USER), log)
        assert "temporary" in log or "unreachable" in log
        assert c.noop()[0] == "OK"
        c.logout()


def test_many_concurrent_logins_all_succeed(make_instance, tmp_path):
    with slapd_fixture.Slapd(tmp_path) as server:
        inst, store = ldap_imap_instance(make_instance, server, tmp_path)
        deliver(store, message("storm"))
        searches = server.search_count()
        logins = [Login(inst) for _ in range(40)]
        logins.append(Login(inst, password="wrong"))
        for one in logins:
            one.start()
        for one in logins:
            one.join(60)
        results = [one.result for one in logins]
        assert all(r is not None for r in results), results
        bad = results.pop()
        assert bad[0] == "NO" and "AUTHENTICATIONFAILED" in bad[1], bad
        assert [r[0] for r in results] == ["OK"] * 40, results
        for _, conn in results:
            assert conn.select("INBOX") == ("OK", [b"1"])
            conn.logout()
        # Each login asked slapd (no cache), all in one process.
        assert server.search_count() - searches >= 41
        assert len(imapd_pids(inst)) == 1, imapd_pids(inst)


def test_concurrent_logins_of_two_users_never_cross(make_instance, tmp_path):
    """Lookup threads parse their own entries: two users logging in at
    once, each many times, each with the other's password too, in one
    process; nobody gets in with the other's password or sees the
    other's INBOX."""
    other, other_password = "bob@example.test", "bob-" + PASSWORD
    with slapd_fixture.Slapd(tmp_path) as server:
        inst, store = ldap_imap_instance(make_instance, server, tmp_path,
                                         ldap_pool_size="4")
        r = inst.ctl("mailbox", "add", other, "--password-stdin",
                     input=other_password + "\n")
        assert r.returncode == 0, r.stderr
        deliver(store, message("alice's"))
        tries = ([(USER, PASSWORD, "OK")] * 20
                 + [(other, other_password, "OK")] * 20
                 + [(USER, other_password, "NO")] * 8
                 + [(other, PASSWORD, "NO")] * 8)
        results = [None] * len(tries)

        def attempt(i, user, password):
            conn = imaplib.IMAP4("127.0.0.1", inst.port("imap"), timeout=60)
            try:
                conn.login(user, password)
            except imaplib.IMAP4.error:
                results[i] = ("NO", None)
                conn.logout()
                return
            typ, data = conn.select("INBOX")
            results[i] = ("OK", data[0] if typ == "OK" else typ)
            conn.logout()

        threads = [threading.Thread(target=attempt, args=(i, u, p),
                                    daemon=True)
                   for i, (u, p, _) in enumerate(tries)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for (user, _, want), got in zip(tries, results):
            assert got is not None and got[0] == want, (user, want, got)
            if want == "OK":
                # alice's INBOX has her one message, bob's none.
                assert got[1] == (b"1" if user == USER else b"0"), \
                    (user, got)
        assert len(imapd_pids(inst)) == 1, imapd_pids(inst)


def cap_reached(inst):
    """How often a session of inst found every lookup place busy
    (ispmail_cap_reached_total at ldap_pool_size): how many queued."""
    r = inst.ctl("metrics")
    assert r.returncode == 0, r.stderr
    m = re.search(r'^ispmail_cap_reached_total\{at="ldap_pool_size"\} '
                  r'(\d+)$', r.stdout, re.M)
    return int(m.group(1)) if m else 0


def cpu_seconds(pid):
    """User + system CPU time of process pid, all its threads."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime, fields 14 and 15 of proc(5), after "pid (comm)".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


QUEUED = 60


def test_queued_logins_wait_without_polling_and_in_order(
        make_instance, tmp_path):
    """Sessions queued for a lookup place while the directory hangs cost
    the process no CPU (they are woken when a place comes free, they do
    not look every few ms), and get their places first come first
    served."""
    with slapd_fixture.Slapd(tmp_path) as server:
        # One place, and a deadline no queued login meets in this test.
        inst, store = ldap_imap_instance(
            make_instance, server, tmp_path, ldap_search_timeout="30s",
            ldap_pool_size="1")
        c = login(inst)     # the place's LDAP connection is up
        [pid] = imapd_pids(inst)
        server.pause()
        try:
            holder = stalled_login(inst, server)
            # One at a time, so the queue's order is known: each login
            # has queued once the cap counter moved.
            queued, base = [], cap_reached(inst)
            for i in range(QUEUED):
                one = Login(inst, user="queued%02d@example.test" % i)
                one.start()
                queued.append(one)
                wait_for(lambda: cap_reached(inst) == base + i + 1,
                         "login %d in the queue" % i)
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            wakeups0 = loop_wakeups(pid)
            time.sleep(2)
            used, spent = cpu_seconds(pid) - cpu0, time.monotonic() - t0
            wakeups = loop_wakeups(pid) - wakeups0
            # Polling every 5 ms woke the loop 560 to 920 times in 2 s
            # and took 0.04 to 0.06 s of CPU (0.26 to 0.29 s under ASan)
            # with 60 sessions queued; waiting to be woken takes nothing
            # (one 10 ms tick allowed; the loop woke once here).
            assert wakeups < 10 and used < 0.01 * spent, (
                "imapd's loop woke %d times and used %.2fs of CPU in "
                "%.1fs with %d logins queued"
                % (wakeups, used, spent, QUEUED))
            assert c.noop()[0] == "OK"
            assert holder.is_alive() and all(q.is_alive() for q in queued)
        finally:
            server.resume()
        for one in [holder] + queued:
            one.join(60)
        assert holder.result is not None and holder.result[0] == "OK", \
            holder.result
        for one in queued:
            # Looked up, unknown: a verdict, not a queue that gave up.
            assert one.result is not None and one.result[0] == "NO", \
                one.result
            assert "AUTHENTICATIONFAILED" in one.result[1], one.result
        # One place: slapd saw the queued logins' searches in the order
        # they queued.
        asked = []
        for m in re.finditer(r"queued(\d\d)@example\.test", server.log()):
            if int(m.group(1)) not in asked:
                asked.append(int(m.group(1)))
        assert asked == list(range(QUEUED)), asked
        assert holder.result[1].select("INBOX")[0] == "OK"
        holder.result[1].logout()
        c.logout()


UNUSABLE = 16


def test_lookup_thread_lines_name_their_login(make_instance, tmp_path):
    """What a login's lookup thread logs carries that login's session
    (the log context "login ADDR[PORT]", the thread's own copy), never
    another session's that the loop ran meanwhile: many users log in at
    once beside a storm of good logins, each with a password hash the
    lookup thread that checks it finds unusable and logs."""
    with slapd_fixture.Slapd(tmp_path) as server:
        inst, store = ldap_imap_instance(make_instance, server, tmp_path,
                                         ldap_pool_size="4")
        users = ["unusable%02d@example.test" % i for i in range(UNUSABLE)]
        for user in users:
            r = inst.ctl("mailbox", "add", user, "--password-stdin",
                         input="whatever\n")
            assert r.returncode == 0, r.stderr
            server.ldapmodify(
                "dn: mail=%s,ispmailDomainName=example.test,%s\n"
                "changetype: modify\nreplace: userPassword\n"
                "userPassword: {CRYPT}$unknown$abc\n"
                % (user, server.base_dn))
        ports, results = {}, {}

        def attempt(user, password):
            conn = imaplib.IMAP4("127.0.0.1", inst.port("imap"), timeout=60)
            ports[user] = conn.sock.getsockname()[1]
            try:
                conn.login(user, password)
                results[user] = "OK"
            except imaplib.IMAP4.error:
                results[user] = "NO"
            conn.logout()

        tries = [(u, "whatever") for u in users] + [(USER, PASSWORD)] * 24
        threads = [threading.Thread(target=attempt, args=t, daemon=True)
                   for t in tries]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert results == dict([(u, "NO") for u in users] + [(USER, "OK")])
        log = inst.log()
        for user in users:
            lines = [line for line in log.splitlines()
                     if "%s: unusable password hash" % user in line]
            assert len(lines) == 1, (user, lines)
            assert re.search(r"imapd\[\d+\]: warning: login "
                             r"127\.0\.0\.1\[%d\]: %s: unusable password "
                             r"hash$" % (ports[user], re.escape(user)),
                             lines[0]), (ports[user], lines[0])
        # The context ends with the lookup: the verdict's line has none.
        assert re.search(r"imapd\[\d+\]: login failed user=%s " %
                         re.escape(users[0]), log)
        assert len(imapd_pids(inst)) == 1, imapd_pids(inst)
