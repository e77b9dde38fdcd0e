"""Start a real ispmail instance for a test and talk to it.

Instance(services, params) builds a scratch instance under $TMPDIR:

    DIR/config/main.conf    queue_directory, daemon_directory (the build
                            tree), syslog_name, ... plus the test's params
    DIR/config/master.conf  one line per Service
    DIR/queue/              the queue (status socket, pid file, unix sockets)
    DIR/store/              for daemons that keep mailboxes
    DIR/master.log          the master's (and its children's) stderr

start() runs `ispmail-master -f -c DIR/config` and waits until the status
socket answers.  Inet services get free loopback ports picked here (bind
port 0, close, hand the number to the master); when the master loses the
race for a port, start() picks new ports and tries again.

The harness is for every daemon's tests: a test lists its services (the
command is a program under top_builddir or an absolute path), sets the
main.conf parameters it needs, and uses port()/connect() to reach them,
status() to see the master's view, ctl() to run ispmailctl against the
instance.  close() (the conftest fixture calls it) always stops the master
and kills whatever process of the instance is left.

Environment: top_builddir (programs), top_srcdir (sources); both default
to the tree this file is in.
"""

import errno
import os
import pwd
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_SRCDIR = os.path.abspath(os.environ.get("top_srcdir")
                             or os.path.join(HERE, "..", ".."))
TOP_BUILDDIR = os.path.abspath(os.environ.get("top_builddir") or TOP_SRCDIR)

MASTER = os.path.join(TOP_BUILDDIR, "master", "ispmail-master")
CTL = os.path.join(TOP_BUILDDIR, "tools", "ispmailctl")
TESTSVC = os.path.join(TOP_BUILDDIR, "tests", "ispmail-testsvc")

STATUS_SOCKET = "private/master.status"     # common/global/master_proto.h
PID_FILE = "pid/master.pid"

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
IO_TIMEOUT = 10.0

# Numeric attributes of a status record (the rest stay strings).
_STATUS_INTS = {"maxproc", "busy", "idle", "total", "cap_hits",
                "abnormal_exits", "spawns", "throttled", "stress",
                "stress_events", "pid", "uptime",
                "services", "end"}


def _no_core_dumps():
    # Tests crash services on purpose; their cores would litter the queue.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def current_user():
    """The user name services run as: the test's own, literally "root"
    when the tests run as root (master.conf refuses other uid-0 names)."""
    uid = os.geteuid()
    if uid == 0:
        return "root"
    return pwd.getpwuid(uid).pw_name


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    """A port nobody listens on right now (the caller may still lose it)."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def wait_for(predicate, timeout=5.0, interval=0.05, what=None):
    """Poll predicate() until it returns a true value, which is returned.
    Raises AssertionError after timeout seconds (naming what)."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, ValueError, KeyError) as e:
            last_error = e
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s%s" % (
                timeout, what or getattr(predicate, "__name__", "condition"),
                " (last error: %r)" % last_error if last_error else ""))
        time.sleep(interval)


# --- the attribute protocol (common/util/attr.h) --------------------------------

def attr_encode(record):
    """Encode a dict (or list of pairs) as one record."""
    items = record.items() if isinstance(record, dict) else record
    out = []
    for name, value in items:
        value = str(value).encode() if not isinstance(value, bytes) else value
        esc = "".join("%%%02X" % b if b < 0x20 or b in (0x25, 0x7f)
                      else chr(b) for b in value)
        out.append("%s=%s\n" % (name, esc))
    return ("".join(out) + "\n").encode("latin-1")


def attr_decode_value(text):
    """Undo %XX escapes; a '%' without two hex digits is an error."""
    out = bytearray()
    i = 0
    raw = text.encode("latin-1")
    while i < len(raw):
        if raw[i] == 0x25:
            digits = raw[i + 1:i + 3]
            if len(digits) != 2 or not re.fullmatch(rb"[0-9A-Fa-f]{2}",
                                                    digits):
                raise ValueError("bad escape in %r" % text)
            out.append(int(digits, 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "replace")


class AttrReader:
    """Read records ("name=value" lines, an empty line ends one) from a
    socket; each record is a dict (the first of duplicate names wins)."""

    def __init__(self, sock):
        self.sock = sock
        self.pending = b""

    def _line(self):
        while b"\n" not in self.pending:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("EOF in the middle of a record")
            self.pending += chunk
            if len(self.pending) > 1 << 20:
                raise ValueError("attribute line too long")
        line, self.pending = self.pending.split(b"\n", 1)
        return line.rstrip(b"\r").decode("latin-1")

    def record(self):
        record = {}
        while True:
            line = self._line()
            if line == "":
                return record
            name, sep, value = line.partition("=")
            if not sep or not re.fullmatch(r"[a-z0-9_]{1,64}", name):
                raise ValueError("malformed attribute line %r" % line)
            record.setdefault(name, attr_decode_value(value))


def _typed(record):
    return {k: (int(v) if k in _STATUS_INTS and re.fullmatch(r"-?\d+", v)
                else v) for k, v in record.items()}


class Status:
    """The master's answer: .master (pid, uptime, services) and
    .services (name -> dict with ints for the counters), in order."""

    def __init__(self, master, services):
        self.master = master
        self.services = services

    def __getitem__(self, name):
        return self.services[name]

    def __contains__(self, name):
        return name in self.services

    def __repr__(self):
        return "Status(master=%r, services=%r)" % (self.master,
                                                   self.services)


def query_status(path, timeout=5.0):
    """Ask the status socket at path; returns a Status."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(attr_encode({"request": "status"}))
        reader = AttrReader(s)
        services = {}
        while True:
            record = reader.record()
            if "error" in record:
                raise ValueError("status socket error: %s" % record["error"])
            if "end" in record:
                return Status(_typed(record), services)
            services[record.get("service", "?")] = _typed(record)


# --- services and the instance --------------------------------------------

class Service:
    """One master.conf line.

    type "inet": listen None means 127.0.0.1 on a free port; "[::1]" or
    "127.0.0.1" (no port) get a free port on that address; a full
    "host:port" is taken as is.  type "unix": listen is a path (relative
    ones are under queue_directory).  command: a path relative to
    top_builddir (e.g. "smtpd/smtpd") or absolute.  user None is the
    current user.  options: -o overrides (dict).  args: the daemon's own.
    """

    def __init__(self, name, command, args=(), type="inet", listen=None,
                 user=None, maxproc=1, options=None):
        self.name = name
        self.command = command
        self.args = list(args)
        self.type = type
        self.listen = listen
        self.user = user
        self.maxproc = maxproc
        self.options = dict(options or {})
        self.address = None     # resolved listen address, set by Instance

    def command_path(self):
        if os.path.isabs(self.command):
            return self.command
        return os.path.join(TOP_BUILDDIR, self.command)

    def needs_port(self):
        if self.type != "inet":
            return False
        listen = self.listen
        if listen is None:
            return True
        if listen.startswith("["):
            return listen.endswith("]")
        return ":" not in listen and not listen.isdigit()

    def assign_port(self):
        if self.listen is None:
            self.address = "127.0.0.1:%d" % free_port()
        elif self.listen.startswith("["):
            host = self.listen[1:-1]
            self.address = "[%s]:%d" % (host, free_port(socket.AF_INET6,
                                                         host))
        else:
            self.address = "%s:%d" % (self.listen, free_port(
                socket.AF_INET, self.listen))

    def line(self, default_user):
        if self.address is None:
            self.address = self.listen
        fields = [self.name, self.type, self.address,
                  self.user or default_user, str(self.maxproc),
                  self.command_path()]
        for name, value in self.options.items():
            fields += ["-o", "%s=%s" % (name, value)]
        fields += self.args
        return " ".join(fields)


def testsvc(name, *args, **kwargs):
    """A Service running tests/ispmail-testsvc."""
    return Service(name, TESTSVC, args=args, **kwargs)


testsvc.__test__ = False    # a helper, not a test, for pytest


class Instance:
    """A scratch ispmail instance; see the module docstring."""

    def __init__(self, services=(), params=None, name="ispmail-it"):
        self.services = list(services)
        self.params = dict(params or {})
        # realpath: the master hands children its absolute -c directory,
        # and instance_pids() finds them by it.
        self.dir = os.path.realpath(tempfile.mkdtemp(prefix="ispmail-it-"))
        # Services drop to other users when the tests run as root: let
        # them reach the instance (the queue's private/ stays the master's).
        os.chmod(self.dir, 0o755)
        self.config_dir = os.path.join(self.dir, "config")
        self.queue_dir = os.path.join(self.dir, "queue")
        self.store_dir = os.path.join(self.dir, "store")
        for d in (self.config_dir, self.queue_dir, self.store_dir):
            os.makedirs(d)
        self.log_path = os.path.join(self.dir, "master.log")
        self.name = name
        self.proc = None
        self.user = current_user()
        self.closed = False
        self.start_attempts = 0
        # Front daemons get their anvil service, as in a real
        # master.conf; a test of anvil being down turns this off.
        self.with_anvil = True
        # RLIMIT_NOFILE (soft and hard) for the master and all it starts.
        self.nofile = None

    # -- configuration -----------------------------------------------------

    @property
    def main_conf(self):
        return os.path.join(self.config_dir, "main.conf")

    @property
    def master_conf(self):
        return os.path.join(self.config_dir, "master.conf")

    @property
    def status_path(self):
        return os.path.join(self.queue_dir, STATUS_SOCKET)

    @property
    def pid_path(self):
        return os.path.join(self.queue_dir, PID_FILE)

    def base_params(self):
        """What every instance needs; a test's params override these."""
        return {
            "queue_directory": self.queue_dir,
            "daemon_directory": TOP_BUILDDIR,
            "store_root": self.store_dir,
            "syslog_name": self.name,
            # Root must not own the instance's sockets and files by
            # accident; as a user, everything is that user's anyway.
            "mail_owner": "nobody" if self.user == "root" else self.user,
            # As root the test services run as root, inet ones too: the
            # tests say so explicitly (ispmail-master(8), the root rule).
            "allow_root_services": "yes" if self.user == "root" else "no",
            "service_throttle_time": "2s",
            "master_stop_timeout": "3s",
            "process_limit_warning_time": "1s",
            "max_idle": "30s",
            # The tests drive lmtpd over loopback TCP (smtplib.LMTP, a
            # second store host); the default trusts no TCP client.
            "lmtp_trusted_networks": "127.0.0.0/8 [::1]/128",
            # The master's minute sample (a short-lived child) would be
            # one more process for tests that count them; test_baseline
            # turns it on.
            "baseline_sample_time": "0",
        }

    def write_main_conf(self, extra=None):
        params = self.base_params()
        params.update(self.params)
        params.update(extra or {})
        with open(self.main_conf, "w") as f:
            f.write("# written by tests/integration/harness.py\n")
            for name, value in params.items():
                f.write("%s = %s\n" % (name, value))

    def write_master_conf(self, services=None, assign_ports=True):
        """Write master.conf from services (default self.services, which
        it replaces).  New inet services get free ports; services keep
        theirs when the same objects are written again."""
        if services is not None:
            self.services = list(services)
        self._add_anvil()
        self._add_auth()
        taken = {s.address for s in self.services if s.address}
        for svc in self.services:
            if assign_ports and svc.address is None and svc.needs_port():
                # free_port() may hand out a port it gave a moment ago.
                for _ in range(20):
                    svc.assign_port()
                    if svc.address not in taken:
                        break
                taken.add(svc.address)
        with open(self.master_conf, "w") as f:
            f.write("# written by tests/integration/harness.py\n")
            for svc in self.services:
                f.write(svc.line(self.user) + "\n")

    def _add_anvil(self):
        """The anvil service where smtpd, popd or imapd run (anvil(8))."""
        commands = [os.path.basename(s.command) for s in self.services]
        if (not self.with_anvil or "anvil" in commands or not
                set(commands) & {"smtpd", "popd", "imapd", "proxyd"}):
            return
        self.services.append(Service(
            "anvil", "anvil/anvil", type="unix", listen="private/anvil",
            options={"service_keep_running": "yes"}))

    def _add_auth(self):
        """The auth service where proxyd runs (authd(8))."""
        commands = [os.path.basename(s.command) for s in self.services]
        if "authd" in commands or "proxyd" not in commands:
            return
        self.services.append(Service(
            "auth", "auth/authd", type="unix", listen="private/auth",
            maxproc=4))

    # -- lifecycle ---------------------------------------------------------

    def start(self, extra_args=(), wait=True, retries=3):
        """Write the configuration and start the master; wait until the
        status socket answers.  Retries with new ports when one was taken."""
        self.write_main_conf()
        for attempt in range(retries):
            self.start_attempts += 1
            self.write_master_conf()
            self._spawn(extra_args)
            if not wait:
                return self
            try:
                self.wait_ready()
                return self
            except RuntimeError:
                if (attempt + 1 < retries and self.proc.poll() is not None
                        and "in use" in self.log()):
                    for svc in self.services:
                        if svc.needs_port():
                            svc.address = None
                    continue
                raise
        return self

    def _spawn(self, extra_args=()):
        nofile = self.nofile

        def preexec():
            _no_core_dumps()
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        logf = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [MASTER, "-f", "-c", self.config_dir] + list(extra_args),
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                start_new_session=True, preexec_fn=preexec)
        finally:
            logf.close()

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    "ispmail-master exited with status %s before its "
                    "status socket answered; its log:\n%s"
                    % (self.proc.returncode, self.log()))
            try:
                return query_status(self.status_path, timeout=1.0)
            except (OSError, ValueError):
                pass
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    "ispmail-master's status socket %s did not answer "
                    "within %.0fs; its log:\n%s"
                    % (self.status_path, timeout, self.log()))
            time.sleep(0.05)

    def status(self):
        return query_status(self.status_path)

    def service_status(self, name):
        return self.status()[name]

    def reload(self, services=None, timeout=5.0):
        """Rewrite master.conf (when services are given), send SIGHUP and
        wait until the status socket shows exactly the new services with
        their process limits."""
        if services is not None:
            self.write_master_conf(services)
        # maxproc "-" (default_process_limit) is not checked.
        expected = [(s.name, int(s.maxproc) if str(s.maxproc).isdigit()
                     else None) for s in self.services]
        self.signal(signal.SIGHUP)

        def reloaded():
            st = self.status()
            got = [(n, r["maxproc"]) for n, r in st.services.items()]
            return len(got) == len(expected) and all(
                g[0] == e[0] and e[1] in (None, g[1])
                for g, e in zip(got, expected))
        wait_for(reloaded, timeout, what="the reload to show in status")

    def signal(self, signo):
        os.kill(self.proc.pid, signo)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, timeout=STOP_TIMEOUT, expect_status=0):
        """SIGTERM the master, wait for it, check its exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("ispmail-master did not exit within "
                                 "%.0fs of SIGTERM" % timeout)
        if expect_status is not None:
            assert rc == expect_status, (
                "ispmail-master exited with %s, expected %s; log:\n%s"
                % (rc, expect_status, self.log()))
        return rc

    def instance_pids(self):
        """Every live process started for this instance: its command line
        names this instance's config directory (the master passes -c)."""
        pids = []
        needle = self.config_dir.encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    cmdline = f.read()
                with open("/proc/%s/stat" % entry, "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except OSError:
                continue
            if state == b"Z":
                continue
            if needle in cmdline.split(b"\0"):
                pids.append(int(entry))
        return pids

    def service_pids(self, name):
        """The live processes the master started for service name (its
        command line carries "-n name")."""
        pids = []
        for pid in self.instance_pids():
            if pid == self.pid:
                continue
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if any(argv[i] == b"-n" and argv[i + 1] == name.encode()
                   for i in range(len(argv) - 1)):
                pids.append(pid)
        return pids

    def close(self, keep=False):
        """Stop everything of this instance; remove its directory unless
        keep (or ISPMAIL_KEEP_TMP is set)."""
        if self.closed:
            return
        self.closed = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self.instance_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if not keep and not os.environ.get("ISPMAIL_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- looking at it -----------------------------------------------------

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_for_log(self, pattern, timeout=5.0):
        """Wait until the log matches the regular expression; the match."""
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log()), timeout,
                        what="log line /%s/" % pattern)

    def wait_for(self, predicate, timeout=5.0, what=None):
        return wait_for(predicate, timeout, what=what)

    def ctl(self, *args, input=None, timeout=15):
        """Run ispmailctl -c CONFIG_DIR args...; a CompletedProcess with
        text stdout/stderr."""
        return subprocess.run([CTL, "-c", self.config_dir] + list(args),
                              input=input, capture_output=True, text=True,
                              timeout=timeout)

    def service(self, name):
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(name)

    def port(self, name):
        """The TCP port an inet service listens on."""
        return int(self.service(name).address.rsplit(":", 1)[1])

    def sockaddr(self, name):
        """(family, address) to connect() to a service."""
        svc = self.service(name)
        if svc.type == "unix":
            path = svc.address
            if not os.path.isabs(path):
                path = os.path.join(self.queue_dir, path)
            return socket.AF_UNIX, path
        host, _, port = svc.address.rpartition(":")
        if host.startswith("["):
            return socket.AF_INET6, (host[1:-1], int(port))
        if host in ("", "*"):
            host = "127.0.0.1"
        return socket.AF_INET, (host, int(port))

    def connect(self, name, timeout=IO_TIMEOUT):
        """A LineClient connected to a service."""
        family, address = self.sockaddr(name)
        return LineClient(family, address, timeout)


class LineClient:
    """A line-oriented client: send() a line (CRLF added), readline()
    one without its line ending ('' at EOF)."""

    def __init__(self, family, address, timeout=IO_TIMEOUT):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(address)
        except OSError:
            self.sock.close()
            raise
        self.file = self.sock.makefile("rb")

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def readline(self):
        line = self.file.readline(65536)
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def command(self, line):
        self.send(line)
        return self.readline()

    def close(self):
        try:
            self.file.close()
        finally:
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connection_refused(family, address, timeout=2.0):
    """True when nothing accepts connections at address."""
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(address)
    except OSError as e:
        return e.errno in (errno.ECONNREFUSED, errno.ENOENT)
    finally:
        s.close()
    return False


def pid_alive(pid):
    """A live, non-zombie process."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state != b"Z"


def parent_pid(pid):
    with open("/proc/%d/stat" % pid, "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[1])
