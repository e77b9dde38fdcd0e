"""Drive the cluster of scripts/cluster.sh from a test.

Cluster(...) runs `cluster.sh up` into a state directory of its own, with
a namespace prefix of its own (so a cluster an operator runs by hand is
left alone), reads cluster.env, and offers: kill/stop/start/partition/heal
of a host, in_netns() (a context in which new sockets belong to a host's
namespace: setns(2) of the calling thread only), mail clients in the
Internet namespace, and a scan of the shared store by X-Cluster-Id.

Load(cluster, ...) is the steady light load of the N+1 tests: one thread
sends a message every interval to the customers through their MX hosts
(either one, the other when one does not answer, as an MTA does), one
thread logs in through proxy1 over IMAPS; it records what got a 250,
which MX took it, and how every login went.
"""

import contextlib
import ctypes
import email
import imaplib
import os
import poplib
import random
import shutil
import smtplib
import ssl
import subprocess
import tempfile
import threading
import time

CLONE_NEWNET = 0x40000000
# The namespaces' prefix (another run on the machine uses another).
PREFIX = os.environ.get("ISPMAIL_CLUSTER_TEST_PREFIX", "ispmt")
_libc = ctypes.CDLL(None, use_errno=True)

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_SRCDIR = os.path.abspath(os.environ.get("top_srcdir")
                             or os.path.join(HERE, "..", ".."))
TOP_BUILDDIR = os.path.abspath(os.environ.get("top_builddir") or TOP_SRCDIR)
SCRIPT = os.path.join(TOP_SRCDIR, "scripts", "cluster.sh")

IO_TIMEOUT = 10


def precondition_error():
    """Why the cluster cannot be built here, or None."""
    if os.geteuid() != 0:
        return ("the cluster tests need root (network namespaces, "
                "ispmail-master binding port 25); run them as root, as CI does")
    for prog in ("ip", "nft", "dnsmasq", "slapd", "ldapsearch", "openssl"):
        if shutil.which(prog) is None and not os.path.exists(
                "/usr/sbin/" + prog):
            return ("%s is missing: sh scripts/install-deps.sh installs it"
                    % prog)
    probe = "%s-probe%d" % (PREFIX, os.getpid())
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True,
                       text=True)
    if r.returncode != 0:
        return "network namespaces do not work here: " + r.stderr.strip()
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


@contextlib.contextmanager
def in_netns(name):
    """Run the body with this thread in network namespace name."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns %s: %s" % (name, os.strerror(err)))
        try:
            yield
        finally:
            if _libc.setns(own, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(own)
        os.close(target)


def _tls():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def message(msgid, rcpt, sender="sender@remote.test", body="hello"):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: cluster %s\r\n"
            "Message-ID: <%s@cluster.test>\r\nX-Cluster-Id: %s\r\n\r\n"
            "%s\r\n" % (sender, rcpt, msgid, msgid, msgid, body))


class Cluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ispmail-cluster-")
        os.chmod(self.dir, 0o755)
        self.state = os.path.join(self.dir, "state")
        self.env_vars = dict(os.environ, ISPMAIL_CLUSTER_DIR=self.state,
                             ISPMAIL_CLUSTER_PREFIX=PREFIX,
                             ISPMAIL_BUILDDIR=TOP_BUILDDIR)
        self.env = {}
        self.killed = set()
        self.partitioned = set()

    # ---- the script ---------------------------------------------------------

    def sh(self, *args, check=True, timeout=180):
        r = subprocess.run(["sh", SCRIPT] + list(args), env=self.env_vars,
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("cluster.sh %s failed (%d):\n%s\n%s" % (
                " ".join(args), r.returncode, r.stdout[-3000:],
                r.stderr[-3000:]))
        return r

    def up(self):
        # A cluster left by a killed earlier run goes first.
        self.sh("down", check=False)
        self.sh("up")
        with open(os.path.join(self.state, "cluster.env")) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    k, v = line.split("=", 1)
                    self.env[k] = v.strip('"')
        # The proxy tier's name, as a mail client finds it: every A and
        # AAAA record from the cluster's DNS.
        self.proxy_addrs = (self.resolve(self.env["PROXY_NAME"], "A")
                            + self.resolve(self.env["PROXY_NAME"], "AAAA"))
        if len(self.proxy_addrs) < 2:
            raise RuntimeError("%s: want an address per proxy host, DNS "
                               "says %r" % (self.env["PROXY_NAME"],
                                            self.proxy_addrs))

    def resolve(self, name, qtype):
        """The addresses the cluster's DNS gives name (drill, in the
        Internet namespace)."""
        r = subprocess.run(["ip", "netns", "exec", self.env["CLIENT_NS"],
                            "drill", "@" + self.addr("dns"), name, qtype],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("drill %s %s: %s" % (name, qtype, r.stderr))
        out = []
        section = False
        for line in r.stdout.splitlines():
            if line.startswith(";; ANSWER SECTION"):
                section = True
            elif line.startswith(";;"):
                section = False
            elif section and line.strip():
                f = line.split()
                if len(f) >= 5 and f[3] == qtype:
                    out.append(f[4])
        return out

    def down(self, keep_logs=None):
        """Remove the cluster; first copy each host's log to keep_logs."""
        if keep_logs:
            os.makedirs(keep_logs, exist_ok=True)
            for host in os.listdir(os.path.join(self.state, "hosts")) \
                    if os.path.isdir(os.path.join(self.state, "hosts")) else []:
                src = os.path.join(self.state, "hosts", host, "log")
                if os.path.exists(src):
                    shutil.copy(src, os.path.join(keep_logs, host + ".log"))
        self.sh("down", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def sanitizer_reports(self):
        """Lines of AddressSanitizer/UBSan reports in the hosts' logs."""
        found = []
        hosts = os.path.join(self.state, "hosts")
        for host in sorted(os.listdir(hosts)) if os.path.isdir(hosts) else []:
            for line in self.log(host).splitlines():
                if "AddressSanitizer" in line or "runtime error:" in line \
                        or "LeakSanitizer" in line:
                    found.append("%s: %s" % (host, line))
        return found

    def addr(self, host):
        return self.env[host.upper() + "_ADDR"]

    def ns(self, host):
        return self.env[host.upper() + "_NS"]

    @property
    def password(self):
        return self.env["PASSWORD"]

    def kill(self, host):
        self.killed.add(host)
        self.sh("kill", host)

    def stop(self, host):
        self.killed.add(host)
        self.sh("stop", host)

    def start(self, host):
        self.sh("start", host)
        self.killed.discard(host)

    def partition(self, host):
        self.partitioned.add(host)
        self.sh("partition", host)

    def heal(self, host):
        self.sh("heal", host)
        self.partitioned.discard(host)

    def restore(self):
        """Undo what a test did: heal and start what it broke."""
        for host in list(self.partitioned):
            self.heal(host)
        for host in list(self.killed):
            self.start(host)

    def ctl(self, *args, stdin=None):
        return subprocess.run(["sh", SCRIPT, "ctl"] + list(args),
                              env=self.env_vars, input=stdin,
                              capture_output=True, text=True, timeout=60)

    def log(self, host):
        try:
            with open(os.path.join(self.state, "hosts", host, "log"),
                      errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def queue_list(self, host):
        r = subprocess.run([self.env["CTL"], "-c", os.path.join(
            self.state, "hosts", host, "config"), "queue", "list"],
            capture_output=True, text=True, timeout=30)
        return r.stdout

    # ---- clients (in the Internet namespace unless said) --------------------

    def send_mx(self, msgid, rcpt, order=None, tries=None, accepted_at=None):
        """Send to rcpt through its MX hosts, the other when one fails.
        Returns the MX that said 250, or None (every MX refused).  tries
        (a list) gets one (host, outcome) per attempt, the sender's own
        view: "250"; "no-dot" (failed before the end of the data was
        sent: the MX cannot have queued it); "lost-reply" (the end of
        the data went out and no reply came: the MX may have queued it
        and died before its 250 reached us, RFC 1047, so a retry
        elsewhere may make a second copy no MTA can avoid).  accepted_at
        (a list) gets the time the 250 came."""
        hosts = order or random.sample(["mx1", "mx2"], 2)
        for host in hosts:
            outcome, t_reply = self._send_once(host, msgid, rcpt)
            if tries is not None:
                tries.append((host, outcome))
            if outcome == "250":
                if accepted_at is not None:
                    accepted_at.append(t_reply)
                return host
        return None

    def _send_once(self, host, msgid, rcpt):
        """One attempt: (outcome, the time its 250 came or None)."""
        r = self._attempt(host, msgid, rcpt)
        return r if isinstance(r, tuple) else (r, None)

    def _attempt(self, host, msgid, rcpt):
        dot_sent = False
        try:
            with in_netns(self.env["CLIENT_NS"]):
                s = smtplib.SMTP(self.addr(host), 25, timeout=IO_TIMEOUT)
            try:
                s.ehlo()
                code, _ = s.mail("sender@remote.test")
                if code != 250:
                    return "no-dot"
                code, _ = s.rcpt(rcpt)
                if code not in (250, 251):
                    return "no-dot"
                code, _ = s.docmd("DATA")
                if code != 354:
                    return "no-dot"
                data = smtplib.quotedata(message(msgid, rcpt))
                if not data.endswith("\r\n"):
                    data += "\r\n"
                data += ".\r\n"
                dot_sent = True
                s.send(data.encode("ascii"))
                code, _ = s.getreply()
                if code == 250:
                    return ("250", time.time())
                # A reply that is not 250 is a refusal: nothing queued.
                return "refused-%d" % code
            finally:
                try:
                    s.quit()
                except (smtplib.SMTPException, OSError):
                    pass
        except (smtplib.SMTPException, OSError):
            return "lost-reply" if dot_sent else "no-dot"

    def send_internet(self, msgid, rcpts):
        """Hand a message to the Internet's own MTA, which finds the MX."""
        with in_netns(self.env["CLIENT_NS"]):
            s = smtplib.SMTP("127.0.0.1", 25, timeout=IO_TIMEOUT)
        with s:
            s.sendmail("sender@remote.test", rcpts, message(msgid, rcpts[0]))

    def imap(self, user, host="proxy", port=993, family=None):
        """An IMAPS session (logged in) to host: "proxy" is the proxy
        tier's name, whose addresses are tried in a random order, the
        next when one refuses or does not answer (as a mail client does
        with several A records); family 6 or 4 keeps to one family.
        Another host name is that host's IPv4 address, or IPv6 with
        family 6."""
        if host == "proxy":
            addrs = [a for a in self.proxy_addrs if family is None
                     or (":" in a) == (family == 6)]
            addrs = random.sample(addrs, len(addrs))
        elif family == 6:
            addrs = [self.env[host.upper() + "_ADDR6"]]
        else:
            addrs = [self.addr(host)]
        for i, addr in enumerate(addrs):
            try:
                with in_netns(self.env["CLIENT_NS"]):
                    if port == 993:
                        c = imaplib.IMAP4_SSL(addr, port, ssl_context=_tls(),
                                              timeout=IO_TIMEOUT)
                    else:
                        c = imaplib.IMAP4(addr, port, timeout=IO_TIMEOUT)
                break
            except OSError:
                if i == len(addrs) - 1:
                    raise
        c.login(user, self.password)
        return c

    def imap_try(self, user, host="proxy"):
        """'ok', 'temporary' (NO [UNAVAILABLE], no answer) or 'auth'."""
        try:
            c = self.imap(user, host)
        except imaplib.IMAP4.abort as e:
            # The connection went away under the login (a dying proxy).
            return "temporary", str(e)
        except imaplib.IMAP4.error as e:
            text = str(e)
            if "UNAVAILABLE" in text or "[" in text and "AUTH" not in text:
                return "temporary", text
            return "auth", text
        except OSError as e:
            return "temporary", str(e)
        try:
            c.select("INBOX")
            c.logout()
        except (imaplib.IMAP4.error, OSError) as e:
            return "temporary", str(e)
        return "ok", ""

    def pop3(self, user, host="proxy1", port=995):
        with in_netns(self.env["CLIENT_NS"]):
            if port == 995:
                c = poplib.POP3_SSL(self.addr(host), port, context=_tls(),
                                    timeout=IO_TIMEOUT)
            else:
                c = poplib.POP3(self.addr(host), port, timeout=IO_TIMEOUT)
        c.user(user)
        c.pass_(self.password)
        return c

    def submit(self, msgid, sender, rcpt):
        """Submission through proxy1 (STARTTLS, AUTH PLAIN)."""
        with in_netns(self.env["CLIENT_NS"]):
            s = smtplib.SMTP(self.addr("proxy1"), 587, timeout=IO_TIMEOUT)
        with s:
            s.starttls(context=_tls())
            s.login(sender, self.password)
            s.sendmail(sender, [rcpt], message(msgid, rcpt, sender=sender))

    # ---- the store ----------------------------------------------------------

    def maildir(self, address):
        local, domain = address.split("@")
        if domain == "remote.test":
            return os.path.join(self.state, "hosts", "inet", "store",
                                domain, local)
        return os.path.join(self.env["STORE_ROOT"], domain, local)

    def scan(self, addresses):
        """{X-Cluster-Id: [(address, mtime), ...]} of what the mailboxes
        hold (new/ and cur/ of INBOX)."""
        found = {}
        for address in addresses:
            base = self.maildir(address)
            for sub in ("new", "cur"):
                d = os.path.join(base, sub)
                try:
                    names = os.listdir(d)
                except FileNotFoundError:
                    continue
                for name in names:
                    path = os.path.join(d, name)
                    try:
                        with open(path, "rb") as f:
                            head = f.read(4096)
                        mtime = os.stat(path).st_mtime
                    except FileNotFoundError:
                        continue
                    msg = email.message_from_bytes(head)
                    cid = msg.get("X-Cluster-Id")
                    if cid:
                        found.setdefault(cid, []).append((address, mtime))
        return found


MAILBOXES = ["u1@a.test", "u2@a.test", "u3@b.test", "u4@b.test"]


class Load:
    """Steady light load: sends through the MX hosts, logins through the
    proxy.  Use start(), then stop(); results in sent/accepted/logins."""

    def __init__(self, cluster, tag, interval=0.3, read_interval=0.5,
                 readers=("u2@a.test", "u1@a.test", "u3@b.test")):
        self.c = cluster
        self.tag = tag
        self.interval = interval
        self.read_interval = read_interval
        self.readers = readers
        self.sent = []          # (msgid, rcpt, t0)
        self.accepted = {}      # msgid -> (rcpt, t_accepted, mx)
        self.refused = []
        self.tries = {}         # msgid -> [(MX, outcome)] (send_mx)
        self.send_durations = []
        self.logins = []        # (t, user, result, text, duration)
        self._stop = threading.Event()
        self._threads = []
        self.errors = []

    def _send_loop(self):
        n = 0
        while not self._stop.is_set():
            rcpt = MAILBOXES[n % len(MAILBOXES)]
            msgid = "%s-%d" % (self.tag, n)
            n += 1
            t0 = time.time()
            self.sent.append((msgid, rcpt, t0))
            tries = []
            at = []
            self.tries[msgid] = tries
            try:
                mx = self.c.send_mx(msgid, rcpt, tries=tries, accepted_at=at)
            except Exception as e:      # a bug in the test: keep it
                self.errors.append(repr(e))
                mx = None
            t1 = time.time()
            self.send_durations.append(t1 - t0)
            if mx is None:
                self.refused.append(msgid)
            else:
                # The delay is counted from the MX's 250.
                self.accepted[msgid] = (rcpt, at[0] if at else t1, mx)
            self._stop.wait(self.interval)

    def _read_loop(self):
        n = 0
        while not self._stop.is_set():
            user = self.readers[n % len(self.readers)]
            n += 1
            t0 = time.time()
            try:
                result, text = self.c.imap_try(user)
            except Exception as e:
                self.errors.append(repr(e))
                result, text = "error", repr(e)
            self.logins.append((t0, user, result, text, time.time() - t0))
            self._stop.wait(self.read_interval)

    def start(self):
        for fn in (self._send_loop, self._read_loop):
            t = threading.Thread(target=fn, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def wait_delivered(self, timeout=60):
        """Wait until every accepted message is in its mailbox; returns
        the scan."""
        deadline = time.time() + timeout
        while True:
            found = self.c.scan(MAILBOXES)
            missing = [m for m in self.accepted if m not in found]
            if not missing or time.time() > deadline:
                return found
            time.sleep(0.5)

    def results(self, found):
        """The scenario's figures.  A copy too many of a message whose
        sender saw a lost reply after the end of its data (a "lost-reply"
        attempt, then a retry) is the sender's retry (RFC 1047), counted
        in "duplicated_after_lost_reply"; any other ("duplicated_ours",
        listed in "duplicates") is a redelivery from a queue: a bug."""
        delays = []
        lost = duplicated = delivered = 0
        dup_ours = []
        dup_retry = []
        for msgid, (rcpt, t_acc, _mx) in self.accepted.items():
            copies = found.get(msgid, [])
            if not copies:
                lost += 1
                continue
            delivered += 1
            if len(copies) > 1:
                duplicated += 1
                tries = self.tries.get(msgid, [])
                text = "%s: %d copies, attempts %s" % (
                    msgid, len(copies),
                    ",".join("%s=%s" % t for t in tries))
                if any(o == "lost-reply" for _h, o in tries):
                    dup_retry.append(text)
                else:
                    dup_ours.append(text)
            delays.append(max(0.0, min(m for _a, m in copies) - t_acc))
        delays.sort()

        def pct(p):
            if not delays:
                return None
            return round(delays[min(len(delays) - 1,
                                    int(p / 100.0 * len(delays)))], 3)
        return {"sent": len(self.sent), "accepted": len(self.accepted),
                "delivered": delivered, "lost": lost,
                "duplicated": duplicated,
                "duplicated_ours": len(dup_ours), "duplicates": dup_ours,
                "duplicated_after_lost_reply": len(dup_retry),
                "duplicates_after_lost_reply": dup_retry,
                "attempts_lost_reply": sum(
                    1 for t in self.tries.values()
                    for _h, o in t if o == "lost-reply"),
                "p50_delay_s": pct(50),
                "p99_delay_s": pct(99),
                "max_send_s": round(max(self.send_durations or [0]), 3),
                "logins": len(self.logins),
                "logins_ok": sum(1 for x in self.logins if x[2] == "ok"),
                "logins_temporary": sum(1 for x in self.logins
                                        if x[2] == "temporary"),
                "logins_auth_failed": sum(1 for x in self.logins
                                          if x[2] == "auth")}
