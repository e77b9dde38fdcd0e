"""imapd COMPRESS=DEFLATE (RFC 4978): after the tagged OK both directions
are raw deflate; a client that deflates its commands and inflates the
responses (Python's zlib) works through SELECT, a large FETCH, APPEND
with a literal, IDLE and LOGOUT, over plain TCP and over implicit TLS,
with one session per process and with many."""

import socket
import time
import zlib

import pytest

import harness
import tlsutil
from imapdutil import PASSWORD, USER, deliver, make_imap_instance, message


class Deflated:
    """An IMAP connection that speaks plain until compress(), then raw
    deflate both ways, counting the bytes on the wire."""

    def __init__(self, sock):
        self.sock = sock
        self.plain = b""          # inflated input not yet taken
        self.inflate = None
        self.deflate = None
        self.wire_in = 0
        self.wire_out = 0
        self.line()               # greeting

    def compress(self):
        self.inflate = zlib.decompressobj(-15)
        self.deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION,
                                        zlib.DEFLATED, -15)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        if self.deflate is not None:
            data = self.deflate.compress(data) + \
                self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.wire_out += len(data)
        self.sock.sendall(data)

    def _more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("closed; have %r" % self.plain[-200:])
        self.wire_in += len(chunk)
        self.plain += self.inflate.decompress(chunk) \
            if self.inflate is not None else chunk

    def line(self):
        while b"\r\n" not in self.plain:
            self._more()
        line, self.plain = self.plain.split(b"\r\n", 1)
        return line

    def take(self, n):
        while len(self.plain) < n:
            self._more()
        data, self.plain = self.plain[:n], self.plain[n:]
        return data

    def cmd(self, tag, text):
        """Lines (with literals inlined) up to the tagged reply."""
        self.send("%s %s\r\n" % (tag, text))
        lines = []
        while True:
            line = self.line()
            if line.endswith(b"}") and b"{" in line:
                n = int(line[line.rindex(b"{") + 1:-1])
                line += b"\r\n" + self.take(n) + self.line()
            lines.append(line)
            if line.startswith(tag.encode() + b" "):
                return lines


@pytest.fixture(params=["single", "multi"])
def imap(make_instance, request):
    params = {}
    maxproc = 8
    if request.param == "multi":
        params["imap_client_limit"] = "8"
        maxproc = 1
    inst, store = make_imap_instance(make_instance, params=params,
                                     maxproc=maxproc)
    inst.store = store
    return inst


def connect(inst):
    return Deflated(socket.create_connection(("127.0.0.1",
                                              inst.port("imap")), 15))


def login_and_compress(c):
    lines = c.cmd("L", 'LOGIN "%s" "%s"' % (USER, PASSWORD))
    assert lines[-1].startswith(b"L OK"), lines
    assert b"COMPRESS=DEFLATE" in c.cmd("C", "CAPABILITY")[0]
    lines = c.cmd("Z", "COMPRESS DEFLATE")
    assert lines[-1].startswith(b"Z OK"), lines
    c.compress()


def test_compress_session(imap):
    body = "".join("line %d of a long and rather repetitive body\n" % i
                   for i in range(4000))
    deliver(imap.store, message("big", body=body))
    c = connect(imap)
    login_and_compress(c)
    lines = c.cmd("s", "SELECT INBOX")
    assert b"* 1 EXISTS" in lines and lines[-1].startswith(b"s OK"), lines
    before = c.wire_in
    lines = c.cmd("f", "FETCH 1 BODY.PEEK[TEXT]")
    assert lines[-1].startswith(b"f OK"), lines
    text = body.replace("\n", "\r\n").encode()
    assert text in lines[0], lines[0][:200]
    on_wire = c.wire_in - before
    print("FETCH of %d bytes took %d bytes on the wire" % (len(text),
                                                           on_wire))
    assert on_wire < len(text) / 5, on_wire
    # A second COMPRESS: NO, compressed like everything now.
    lines = c.cmd("z2", "COMPRESS DEFLATE")
    assert lines[-1].startswith(b"z2 NO [COMPRESSIONACTIVE]"), lines
    # APPEND with a synchronising literal, through both directions.
    msg = message("appended").replace("\n", "\r\n").encode()
    c.send("a APPEND INBOX {%d}\r\n" % len(msg))
    assert c.line().startswith(b"+ ")
    c.send(msg + b"\r\n")
    line = c.line()
    while not line.startswith(b"a "):
        line = c.line()
    assert line.startswith(b"a OK [APPENDUID "), line
    lines = c.cmd("f2", "FETCH 2 BODY.PEEK[]")
    assert msg in lines[-2] or any(msg in l for l in lines), lines
    # IDLE: a delivery is pushed compressed.
    c.send("i IDLE\r\n")
    assert c.line().startswith(b"+ ")
    deliver(imap.store, message("pushed"))
    deadline = time.monotonic() + 10
    while True:
        line = c.line()
        if line == b"* 3 EXISTS" or time.monotonic() > deadline:
            break
    assert line == b"* 3 EXISTS", line
    c.send("DONE\r\n")
    while not line.startswith(b"i "):
        line = c.line()
    assert line.startswith(b"i OK"), line
    lines = c.cmd("o", "LOGOUT")
    assert lines[0].startswith(b"* BYE") and lines[-1].startswith(b"o OK")


def test_compress_rules(imap):
    c = connect(imap)
    # Before login COMPRESS is not available.
    lines = c.cmd("z", "COMPRESS DEFLATE")
    assert lines[-1].startswith(b"z BAD") or lines[-1].startswith(b"z NO")
    c.cmd("L", 'LOGIN "%s" "%s"' % (USER, PASSWORD))
    assert c.cmd("z1", "COMPRESS LZMA")[-1].startswith(b"z1 BAD")
    assert c.cmd("z2", "COMPRESS")[-1].startswith(b"z2 BAD")
    # Garbage that is not deflate ends the session, nothing else.
    assert c.cmd("z3", "COMPRESS DEFLATE")[-1].startswith(b"z3 OK")
    c.sock.sendall(b"\xff\xfe\xfd not deflate at all\r\n")
    c.sock.settimeout(10)
    closed = False
    try:
        for _ in range(100):
            if c.sock.recv(65536) == b"":
                closed = True
                break
    except ConnectionResetError:
        closed = True
    assert closed, "the session went on after corrupt deflate input"


def test_compress_over_tls(make_instance):
    certs = tlsutil.make_certs()
    inst, store = make_imap_instance(
        make_instance, tls=certs,
        services_extra=[harness.Service(
            "imaps", "imapd/imapd", options={"tls_wrapper_mode": "yes"})])
    deliver(store, message("secret", body="compressed and encrypted\n"))
    sock = tlsutil.client_context(certs).wrap_socket(
        socket.create_connection(("127.0.0.1", inst.port("imaps")), 15),
        server_hostname="localhost")
    c = Deflated(sock)
    login_and_compress(c)
    c.cmd("s", "SELECT INBOX")
    lines = c.cmd("f", "FETCH 1 BODY.PEEK[TEXT]")
    assert b"compressed and encrypted" in lines[0], lines
    assert c.cmd("o", "LOGOUT")[-1].startswith(b"o OK")
