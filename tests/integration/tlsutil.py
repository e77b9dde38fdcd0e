"""A throw-away CA and server certificate for TLS tests, made with the
openssl command (Debian package openssl), once per test session."""

import hashlib
import http.server
import os
import ssl
import subprocess
import tempfile
import threading

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


def sign_cert(ca_dir, name, sans):
    """A certificate for the DNS names sans, signed by the CA of
    make_certs' directory ca_dir: {cert, key, ca}."""
    key = os.path.join(ca_dir, name + ".key")
    csr = os.path.join(ca_dir, name + ".csr")
    cert = os.path.join(ca_dir, name + ".pem")
    ext = os.path.join(ca_dir, name + ".ext")
    _run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + sans[0],
         "-keyout", key, "-out", csr)
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\n" %
                ",".join("DNS:" + s for s in sans))
    _run("x509", "-req", "-in", csr, "-CA", os.path.join(ca_dir, "ca.pem"),
         "-CAkey", os.path.join(ca_dir, "ca.key"), "-CAcreateserial",
         "-days", "2", "-extfile", ext, "-out", cert)
    return {"cert": cert, "key": key, "ca": os.path.join(ca_dir, "ca.pem")}


def spki_sha256(cert):
    """SHA-256 (hex) of a PEM certificate's public key: a DANE 3 1 1."""
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-noout",
                          "-pubkey"], check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                         input=pub, check=True, capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


def https_server(host, port, handler, certs):
    """A threading HTTPS server on host:port with certs' cert and key,
    serving handler in a thread; stop it with shutdown(), server_close()."""
    httpd = http.server.ThreadingHTTPServer((host, port), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs["cert"], certs["key"])
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd
