"""A DNSSEC-signed test zone behind a validating resolver, for DANE tests.

The zone (text in RFC 1035 master format, origin given) is signed with a
fresh ECDSA P-256 key by ldns-keygen and ldns-signzone (Debian package
ldnsutils); Debian's unbound serves it as an auth-zone "for-upstream"
(treated as if fetched from an authority, so it is validated like any
answer) with the key's DS as the trust anchor, on 127.0.0.1 and a free
port.  Answers in the zone come back with AD set when asked with AD;
nothing leaves the machine (no root hints are used).

    with SignedZone(directory, "dane.test", records) as dns:
        dns.address   # "127.0.0.1:PORT"

A missing ldns-signzone or unbound is an error (tests fail, never skip).
"""

import glob
import os
import shutil
import socket
import struct
import subprocess
import time

import dnsutil

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
LDNS_KEYGEN = shutil.which("ldns-keygen") or "/usr/bin/ldns-keygen"
LDNS_SIGNZONE = shutil.which("ldns-signzone") or "/usr/bin/ldns-signzone"


def _need(path, package):
    if not os.path.exists(path):
        raise RuntimeError("%s not found: apt-get install %s" % (path,
                                                                 package))


def ad_query(address, name, qtype):
    """(rcode, answer count, AD bit) of one UDP query with AD set."""
    host, port = address.rsplit(":", 1)
    packet = struct.pack("!HHHHHH", 4242, 0x0120, 1, 0, 0, 0) + \
        dnsutil._encode_name(name) + struct.pack("!HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    try:
        s.sendto(packet, (host, int(port)))
        reply = s.recv(4096)
    except OSError:
        return None
    finally:
        s.close()
    _qid, flags, _qd, ancount, _ns, _ar = struct.unpack("!HHHHHH",
                                                        reply[:12])
    return flags & 0x0f, ancount, bool(flags & 0x20)


class SignedZone(dnsutil.DnsServer):
    """address, stop() and the with-statement as DnsServer's."""

    def __init__(self, directory, origin, records, tamper=()):
        """tamper: (old, new) text replacements made in the zone after
        it was signed, so those records fail validation (bogus)."""
        self.directory = directory
        self.origin = origin.rstrip(".")
        self.records = list(records)
        self.tamper = list(tamper)
        self.proc = None
        self.port = None

    def _sign(self):
        _need(LDNS_KEYGEN, "ldnsutils")
        _need(LDNS_SIGNZONE, "ldnsutils")
        zone = os.path.join(self.directory, "zone")
        with open(zone, "w") as f:
            f.write("$ORIGIN %s.\n$TTL 300\n"
                    "@ IN SOA ns admin 1 3600 600 86400 300\n"
                    "@ IN NS ns\nns IN A 127.0.0.1\n" % self.origin)
            for record in self.records:
                f.write(record + "\n")
        for old in glob.glob(os.path.join(self.directory, "K*")):
            os.unlink(old)
        subprocess.run([LDNS_KEYGEN, "-a", "ECDSAP256SHA256", "-k",
                        self.origin], cwd=self.directory, check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        [key] = glob.glob(os.path.join(self.directory, "K*.key"))
        subprocess.run([LDNS_SIGNZONE, "-f", zone + ".signed", zone,
                        key[:-4]], cwd=self.directory, check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        with open(zone + ".signed") as f:
            text = f.read()
        for old, new in self.tamper:
            if old not in text:
                raise RuntimeError("tamper: %r not in the signed zone" % old)
            text = text.replace(old, new)
        with open(zone + ".signed", "w") as f:
            f.write(text)
        return zone + ".signed", key[:-4] + ".ds"

    def start(self, timeout=10.0):
        _need(UNBOUND, "unbound")
        os.makedirs(self.directory, exist_ok=True)
        signed, ds = self._sign()
        conf = os.path.join(self.directory, "unbound.conf")
        log = os.path.join(self.directory, "unbound.log")
        for _attempt in range(5):
            self.port = dnsutil._free_port()
            with open(conf, "w") as f:
                f.write(
                    "server:\n"
                    "  interface: 127.0.0.1\n  port: %d\n"
                    "  do-daemonize: no\n  username: \"\"\n"
                    "  chroot: \"\"\n  directory: \"%s\"\n"
                    "  pidfile: \"\"\n  use-syslog: no\n"
                    "  logfile: \"%s\"\n  verbosity: 1\n"
                    "  module-config: \"validator iterator\"\n"
                    "  trust-anchor-file: \"%s\"\n"
                    "  access-control: 127.0.0.0/8 allow\n"
                    "  do-not-query-localhost: no\n"
                    # .test is one of unbound's RFC 6761 local zones.
                    "  local-zone: \"test.\" nodefault\n"
                    "  val-log-level: 2\n"
                    "auth-zone:\n  name: \"%s.\"\n  zonefile: \"%s\"\n"
                    "  for-downstream: no\n  for-upstream: yes\n"
                    "  fallback-enabled: no\n"
                    % (self.port, self.directory, log, ds, self.origin,
                       signed))
            errors = open(os.path.join(self.directory, "unbound.err"), "w")
            self.proc = subprocess.Popen(
                [UNBOUND, "-d", "-c", conf], stdin=subprocess.DEVNULL,
                stdout=errors, stderr=errors, start_new_session=True)
            errors.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                answer = ad_query(self.address, "ns." + self.origin, 1)
                if answer is not None and answer[2]:
                    return self
                time.sleep(0.05)
            self.stop()
        with open(os.path.join(self.directory, "unbound.err")) as f:
            raise RuntimeError("unbound did not start or validate: " +
                               f.read())
