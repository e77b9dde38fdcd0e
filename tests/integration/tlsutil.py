"""A throw-away CA and server certificate for TLS tests, made with the
openssl command (Debian package openssl), once per test session."""

import os
import ssl
import subprocess
import tempfile

_cache = {}


def _run(*args):
    subprocess.run(["openssl", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certs(directory=None, hostname="localhost"):
    """Return a dict with paths: ca, cert, key (server cert for hostname,
    127.0.0.1 and ::1, signed by the CA).  Cached per process."""
    if hostname in _cache:
        return _cache[hostname]
    d = directory or tempfile.mkdtemp(prefix="ispmail-tls-")
    ca_key = os.path.join(d, "ca.key")
    ca = os.path.join(d, "ca.pem")
    key = os.path.join(d, "server.key")
    csr = os.path.join(d, "server.csr")
    cert = os.path.join(d, "server.pem")
    ext = os.path.join(d, "server.ext")
    _run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=ispmail test CA", "-keyout", ca_key, "-out", ca)
    _run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + hostname,
         "-keyout", key, "-out", csr)
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:%s,IP:127.0.0.1,IP:::1\n"
                "extendedKeyUsage=serverAuth\n" % hostname)
    _run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
         "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert)
    os.chmod(key, 0o600)
    paths = {"ca": ca, "cert": cert, "key": key, "dir": d}
    _cache[hostname] = paths
    return paths


def client_context(paths):
    """An ssl.SSLContext trusting the test CA (checks the hostname)."""
    ctx = ssl.create_default_context(cafile=paths["ca"])
    return ctx
