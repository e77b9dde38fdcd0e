"""A real DNS server for the tests: Debian's dnsmasq on 127.0.0.1 and a
free port, serving a test zone given as dnsmasq options (no upstream, no
/etc/hosts, names under .test that it does not know are NXDOMAIN).

As a module: DnsServer(directory, zone=TEST_ZONE + more).start() ... stop();
silent_udp_port() gives a port where nobody answers (a DNS timeout).
As a script (for the Check test tests/unit/check_dns):
    dnsutil.py start DIR   prints 127.0.0.1:PORT, leaves dnsmasq running
    dnsutil.py stop DIR    stops it
A missing dnsmasq is an error (tests fail, never skip)."""

import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

DNSMASQ = os.environ.get("DNSMASQ") or shutil.which("dnsmasq") or \
    "/usr/sbin/dnsmasq"

def _reverse6(address):
    digits = socket.inet_pton(socket.AF_INET6, address).hex()
    return ".".join(reversed(digits)) + ".ip6.arpa"


# The zone check_dns relies on (tests add their own records to it).
TEST_ZONE = [
    # MX: preferences 10, 20 (three equal), 30.
    "--mx-host=mx.test,mx1.mx.test,10",
    "--mx-host=mx.test,mx2a.mx.test,20",
    "--mx-host=mx.test,mx2b.mx.test,20",
    "--mx-host=mx.test,mx2c.mx.test,20",
    "--mx-host=mx.test,mx3.mx.test,30",
    "--host-record=mx1.mx.test,127.0.0.21",
    # A and AAAA; A only; AAAA only.
    "--host-record=dual.test,127.0.0.22,2001:db8::22",
    "--host-record=v4only.test,127.0.0.23",
    "--host-record=v6only.test,2001:db8::24",
    # RFC 7505 null MX "0 .": rdata = preference 0, the root name.
    "--dns-rr=nullmx.test,15,000000",
    # A malformed MX (rdata too short): a bad answer, a temporary failure.
    "--dns-rr=badmx.test,15,00",
    # TXT: one string; one record of two strings; two records.
    "--txt-record=txt.test,v=spf1 -all",
    "--txt-record=split.test,part one ,part two",
    "--txt-record=two.test,first",
    "--txt-record=two.test,second",
    # PTR (host-record adds PTRs for its addresses too).
    "--ptr-record=3.0.0.127.in-addr.arpa,ptr.test",
    "--ptr-record=" + _reverse6("2001:db8::f") + ",ptr6.test",
    # TLSA (type 52, RFC 6698): 3 1 1 and 2 0 1 with 32-byte digests;
    # a record too short to be TLSA is not one.
    "--dns-rr=_25._tcp.tlsa.test,52,030101" + "11" * 32,
    "--dns-rr=_25._tcp.tlsa.test,52,020001" + "22" * 32,
    "--dns-rr=_25._tcp.short.test,52,03",
    # A block list: 127.0.0.2 listed with code 127.0.0.2 and a text.
    "--address=/2.0.0.127.bl.test/127.0.0.2",
    "--txt-record=2.0.0.127.bl.test,listed: see https://bl.test/127.0.0.2",
]


def _port_free(port):
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def _free_port():
    for _ in range(200):
        port = random.randint(20000, 60000)
        if _port_free(port):
            return port
    raise RuntimeError("no free port for dnsmasq")


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(address, name, qtype=1, timeout=2.0):
    """Ask address ("127.0.0.1:PORT") once over UDP; the rcode and the
    answer count, or None on a timeout."""
    host, port = address.rsplit(":", 1)
    qid = random.randint(0, 65535)
    packet = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + \
        _encode_name(name) + struct.pack("!HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(packet, (host, int(port)))
        reply = s.recv(4096)
    except socket.timeout:
        return None
    finally:
        s.close()
    _qid, flags, _qd, ancount, _ns, _ar = struct.unpack("!HHHHHH",
                                                        reply[:12])
    return flags & 0x0f, ancount


def silent_udp_port():
    """A bound UDP socket nobody reads: queries there time out.  Keep the
    socket open for as long as the port must stay silent."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s, "127.0.0.1:%d" % s.getsockname()[1]


class DnsServer:
    def __init__(self, directory, zone=None, extra=()):
        self.directory = directory
        self.zone = list(TEST_ZONE if zone is None else zone) + list(extra)
        self.proc = None
        self.port = None
        self.log_path = os.path.join(directory, "dnsmasq.log")

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def argv(self):
        argv = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null",
                "--port=%d" % self.port, "--listen-address=127.0.0.1",
                "--bind-interfaces", "--no-resolv", "--no-hosts",
                "--no-dhcp-interface=", "--pid-file=",
                "--local=/test/", "--local=/in-addr.arpa/",
                "--local=/ip6.arpa/", "--log-queries",
                "--log-facility=" + self.log_path]
        if os.geteuid() == 0:
            # Stay root: the log file is ours, nothing here is exposed.
            argv.append("--user=root")
        return argv + self.zone

    def start(self, timeout=10.0):
        if not os.path.exists(DNSMASQ):
            raise RuntimeError("dnsmasq not found (%s): apt-get install "
                               "dnsmasq-base" % DNSMASQ)
        os.makedirs(self.directory, exist_ok=True)
        for _attempt in range(5):
            self.port = _free_port()
            errors = open(os.path.join(self.directory, "dnsmasq.err"), "w")
            self.proc = subprocess.Popen(
                self.argv(), stdin=subprocess.DEVNULL,
                stdout=errors, stderr=errors, start_new_session=True)
            errors.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if query(self.address, "mx1.mx.test", timeout=0.2):
                    return self
                time.sleep(0.05)
            self.stop()
        with open(os.path.join(self.directory, "dnsmasq.err")) as f:
            raise RuntimeError("dnsmasq did not start: " + f.read())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        sys.stderr.write("usage: dnsutil.py start|stop DIR\n")
        return 2
    directory = argv[2]
    pid_path = os.path.join(directory, "dnsmasq.pid")
    if argv[1] == "start":
        server = DnsServer(directory).start()
        with open(pid_path, "w") as f:
            f.write("%d\n" % server.proc.pid)
        # Leave it running: the Popen object is dropped without a wait.
        server.proc = None
        print(server.address, flush=True)
        return 0
    try:
        with open(pid_path) as f:
            pid = int(f.read())
    except (OSError, ValueError):
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    os.unlink(pid_path)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
