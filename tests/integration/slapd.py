"""A real OpenLDAP slapd for the tests, on a free 127.0.0.1 port.

Slapd(tmpdir) builds a cn=config directory with slapadd -n0 that loads the
core, cosine, inetorgperson and misc schemas and our conf/ispmail.ldif
(found through $top_srcdir), an mdb database for BASE_DN with a root DN,
the two accounts of ispmail-ldap(5)'s ACCESS section (SERVICE_DN, which
the daemons bind as, may only read; PROVISION_DN, which ispmailctl's
writes bind as, may write), indexes as ispmail-ldap(5) recommends, then
starts slapd as the current user.  No root needed.  With tls (paths from
tlsutil.make_certs) it serves that certificate for StartTLS, and on a
second port for ldaps:// (ldaps_url).  stop() and start() keep the data;
start() reuses the ports, so a URI stays valid across a restart.

slapd runs in the foreground with "stats" logging into log_path, so a
test can count the searches a client sent (search_count()).

A missing slapd is a failure, not a skip: the LDAP backend must be tested.
"""

import os
import signal
import socket
import subprocess
import time

import harness

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SCHEMA_DIR = "/etc/ldap/schema"
MODULE_DIR = "/usr/lib/ldap"

BASE_DN = "dc=ispmail,dc=test"
ROOT_DN = "cn=admin," + BASE_DN
ROOT_PW = "rootsecret"
SERVICE_DN = "cn=ispmail," + BASE_DN
SERVICE_PW = "servicesecret"
PROVISION_DN = "cn=provision," + BASE_DN
PROVISION_PW = "provisionsecret"


def _top_srcdir():
    top = os.environ.get("top_srcdir")
    if top:
        return top
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _schema_ldif(path):
    """An LDIF file's records without comments (slapadd -n0 input)."""
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    return "".join(lines).strip() + "\n"


class Slapd:
    """One slapd instance; use as a context manager or call stop()."""

    def __init__(self, tmpdir, base_dn=BASE_DN, tls=None):
        for prog in (SLAPD, SLAPADD):
            if not os.access(prog, os.X_OK):
                raise RuntimeError(
                    "%s not found: install the Debian package slapd "
                    "(apt-get install slapd ldap-utils)" % prog)
        self.dir = os.path.join(str(tmpdir), "slapd")
        self.config_dir = os.path.join(self.dir, "slapd.d")
        self.db_dir = os.path.join(self.dir, "db")
        self.log_path = os.path.join(self.dir, "slapd.log")
        self.base_dn = base_dn
        self.tls = tls
        self.port = free_port()
        self.ldaps_port = free_port() if tls is not None else None
        self.proc = None
        self._log = None
        os.makedirs(self.config_dir)
        os.makedirs(self.db_dir)
        self._slapadd(0, self._config_ldif())
        self._slapadd(1, self._base_ldif())
        self.start()

    @property
    def service_dn(self):
        return SERVICE_DN.replace(BASE_DN, self.base_dn)

    @property
    def provision_dn(self):
        return PROVISION_DN.replace(BASE_DN, self.base_dn)

    @property
    def url(self):
        return "ldap://127.0.0.1:%d/" % self.port

    @property
    def ldaps_url(self):
        """The ldaps:// listener (implicit TLS), with tls only (tlsutil's
        certificates name 127.0.0.1)."""
        assert self.ldaps_port is not None, "Slapd(tls=...) has no ldaps"
        return "ldaps://127.0.0.1:%d/" % self.ldaps_port

    # ---- setup -------------------------------------------------------------

    def _config_ldif(self):
        ours = os.path.join(_top_srcdir(), "conf", "ispmail.ldif")
        parts = ["""\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {dir}/slapd.pid
olcArgsFile: {dir}/slapd.args
{tls}
dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {moddir}
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema
""".format(dir=self.dir, moddir=MODULE_DIR, tls="" if self.tls is None else
          "olcTLSCertificateFile: %s\nolcTLSCertificateKeyFile: %s\n" % (
              self.tls["cert"], self.tls["key"]))]
        for name in ("core", "cosine", "inetorgperson", "misc"):
            parts.append(_schema_ldif(os.path.join(SCHEMA_DIR, name + ".ldif")))
        parts.append(_schema_ldif(ours))
        parts.append("""\
dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {base}
olcDbDirectory: {db}
olcDbMaxSize: 268435456
olcDbNoSync: TRUE
olcRootDN: {root}
olcRootPW: {rootpw}
olcDbIndex: objectClass eq
olcDbIndex: mail eq
olcDbIndex: mailLocalAddress eq
olcDbIndex: ispmailDomainName eq
olcAccess: {{0}}to attrs=userPassword by dn.exact="{svc}" read by dn.exact="{prov}" write by anonymous auth by * none
olcAccess: {{1}}to * by dn.exact="{svc}" read by dn.exact="{prov}" write by * none
olcLimits: {{0}}dn.exact="{svc}" size=unlimited time=unlimited
olcLimits: {{1}}dn.exact="{prov}" size=unlimited time=unlimited
""".format(base=self.base_dn, db=self.db_dir, root=ROOT_DN, rootpw=ROOT_PW,
           svc=self.service_dn, prov=self.provision_dn))
        return "\n".join(parts)

    def _base_ldif(self):
        first = self.base_dn.split(",")[0].split("=", 1)[1]
        return """\
dn: {base}
objectClass: domain
dc: {first}

dn: {svc}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: ispmail
userPassword: {pw}

dn: {prov}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: provision
userPassword: {provpw}
""".format(base=self.base_dn, first=first, svc=self.service_dn,
           pw=SERVICE_PW, prov=self.provision_dn, provpw=PROVISION_PW)

    def _slapadd(self, dbnum, ldif):
        path = os.path.join(self.dir, "init-%d.ldif" % dbnum)
        with open(path, "w", encoding="utf-8") as f:
            f.write(ldif)
        args = [SLAPADD, "-F", self.config_dir, "-l", path, "-q"]
        args += ["-n0"] if dbnum == 0 else ["-b", self.base_dn]
        result = subprocess.run(args, capture_output=True, text=True,
                                timeout=30)
        if result.returncode != 0:
            raise RuntimeError("slapadd -n%d failed (%d): %s" % (
                dbnum, result.returncode, result.stderr.strip()))

    # ---- running -----------------------------------------------------------

    def start(self, timeout=10.0):
        if self.proc is not None:
            return
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [SLAPD, "-h", self.url if self.ldaps_port is None else
             "%s ldaps://127.0.0.1:%d/" % (self.url, self.ldaps_port), "-F", self.config_dir, "-d", "256"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                status = self.proc.returncode
                self.proc = None
                self._log.close()
                raise RuntimeError("slapd exited with status %d; see %s:\n%s"
                                   % (status, self.log_path, self.log()[-2000:]))
            if self._answers():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("slapd did not answer on %s within %gs"
                                   % (self.url, timeout))
            time.sleep(0.02)

    def _answers(self):
        """Whether slapd accepts connections and says it is running."""
        try:
            with socket.create_connection(("127.0.0.1", self.port),
                                          timeout=0.5):
                pass
        except OSError:
            return False
        return b"slapd starting" in self.log().encode("utf-8", "replace")

    def stop(self):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None
        self._log.close()
        self._log = None

    def pause(self, timeout=5.0):
        """Stop slapd answering while its port stays open (SIGSTOP), and
        wait until every thread of it is stopped: kill() returns before a
        busy machine has stopped them."""
        self.proc.send_signal(signal.SIGSTOP)
        task_dir = "/proc/%d/task" % self.proc.pid
        deadline = time.monotonic() + timeout
        while True:
            states = []
            for tid in os.listdir(task_dir):
                try:
                    with open(os.path.join(task_dir, tid, "stat")) as f:
                        states.append(f.read().rsplit(")", 1)[1].split()[0])
                except FileNotFoundError:
                    continue
            if states and all(st in ("T", "t") for st in states):
                return
            if time.monotonic() > deadline:
                raise AssertionError("slapd not stopped: %s" % states)
            time.sleep(0.01)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    @property
    def running(self):
        return self.proc is not None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            self.resume()
        self.stop()

    # ---- inspection --------------------------------------------------------

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def search_count(self):
        """How many search operations slapd has logged so far."""
        return sum(1 for line in self.log().splitlines()
                   if " SRCH base=" in line)

    def ldapsearch(self, filt, *attrs, base=None):
        """Entries as LDIF text, bound as the root DN (for assertions)."""
        result = subprocess.run(
            ["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no",
             "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PW,
             "-b", base or self.base_dn, filt] + list(attrs),
            capture_output=True, text=True, timeout=30)
        if result.returncode not in (0, 32):
            raise RuntimeError("ldapsearch failed: " + result.stderr)
        return result.stdout

    def ldapmodify(self, ldif):
        result = subprocess.run(
            ["ldapmodify", "-x", "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PW],
            input=ldif, capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise RuntimeError("ldapmodify failed: " + result.stderr)


def ispmail_params(server, tmp_path, **extra):
    """main.conf parameters for an instance whose routing directory is
    server (the accounts' passwords in files under tmp_path): the daemons
    read as the service account, ispmailctl writes as the provisioning
    one."""
    secret = tmp_path / "ldap.secret"
    # A trailing newline, as editors write it: not part of the password.
    secret.write_text(SERVICE_PW + "\n")
    provision_secret = tmp_path / "ldap-provision.secret"
    provision_secret.write_text(PROVISION_PW + "\n")
    params = {
        "route_backend": "ldap",
        "ldap_server_uris": server.url,
        "ldap_base_dn": server.base_dn,
        "ldap_bind_dn": server.service_dn,
        "ldap_bind_password_file": str(secret),
        "ldap_provision_bind_dn": server.provision_dn,
        "ldap_provision_bind_password_file": str(provision_secret),
        "ldap_connect_timeout": "2s",
        "ldap_search_timeout": "2s",
        # New mailboxes' stores belong to whoever runs the tests.
        "store_owner": harness.current_user(),
    }
    params.update(extra)
    return params
