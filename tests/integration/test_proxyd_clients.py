"""Real clients through proxyd over TLS: curl (imaps, pop3s), mbsync
(IMAPS) and fetchmail (POP3 with STLS), each reaching the store of its
user, A or B, through the one proxy address."""

import os
import re
import shutil
import stat
import subprocess

import pytest

from proxydutil import Env, PASSWORD


@pytest.fixture
def env(make_instance):
    return Env(make_instance)


def message_files(maildir):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        out += [os.path.join(d, n) for n in os.listdir(d)]
    return out


def test_curl_imaps_and_pop3s(env):
    assert shutil.which("curl"), "curl is missing"
    env.deliver(env.alice, "curl imap")
    env.deliver(env.bob, "curl pop")
    base = ["curl", "-sS", "--max-time", "20", "--cacert", env.certs["ca"]]
    r = subprocess.run(base + ["-u", "%s:%s" % (env.alice, PASSWORD),
                               "imaps://localhost:%d/INBOX;UID=1"
                               % env.proxy.port("imaps")],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert b"Subject: curl imap" in r.stdout
    r = subprocess.run(base + ["-u", "%s:%s" % (env.bob, PASSWORD),
                               "pop3s://localhost:%d/1"
                               % env.proxy.port("pop3s")],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert b"Subject: curl pop" in r.stdout


def test_mbsync_imaps(env, tmp_path):
    mbsync = shutil.which("mbsync")
    assert mbsync, "mbsync (Debian package isync) is missing"
    for i in range(3):
        env.deliver(env.bob, "mbsync %d" % i)
    local = tmp_path / "local"
    local.mkdir()
    config = tmp_path / "mbsyncrc"
    config.write_text("""\
IMAPAccount acc
Host localhost
Port %d
User %s
Pass %s
SSLType IMAPS
CertificateFile %s
AuthMechs PLAIN

IMAPStore remote
Account acc

MaildirStore local
Path %s/
Inbox %s/INBOX

Channel ch
Far :remote:
Near :local:
Patterns INBOX
Create Near
SyncState *
""" % (env.proxy.port("imaps"), env.bob, PASSWORD, env.certs["ca"], local,
       local))
    r = subprocess.run([mbsync, "-c", str(config), "-a"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    subjects = sorted(re.search(r"^Subject: (.*)$", open(f).read(),
                                re.M).group(1)
                      for f in message_files(str(local / "INBOX")))
    assert subjects == ["mbsync 0", "mbsync 1", "mbsync 2"]


MDA = """import os, sys
d = sys.argv[1]
n = len(os.listdir(d))
with open(os.path.join(d, "%05d" % n), "wb") as f:
    f.write(sys.stdin.buffer.read())
"""


def test_fetchmail_pop3_stls(env, tmp_path):
    assert shutil.which("fetchmail"), "fetchmail is missing"
    for i in range(2):
        env.deliver(env.alice, "fetch %d" % i)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    mda = tmp_path / "mda.py"
    mda.write_text(MDA)
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        'poll localhost service %d protocol POP3 auth password\n'
        '  user "%s" password "%s"\n'
        '  sslproto "tls1.2+" sslcertck sslcertfile "%s"\n'
        '  mda "/usr/bin/python3 %s %s"\n'
        % (env.proxy.port("pop3"), env.alice, PASSWORD, env.certs["ca"],
           mda, out_dir))
    rc.chmod(stat.S_IRUSR | stat.S_IWUSR)
    envv = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    r = subprocess.run(["fetchmail", "-f", str(rc), "--nosyslog",
                        "--invisible", "-v", "--idfile",
                        str(tmp_path / "ids")],
                       capture_output=True, env=envv, timeout=60)
    log = r.stdout.decode("utf-8", "replace") + r.stderr.decode(
        "utf-8", "replace")
    assert r.returncode == 0, log
    assert "STLS" in log, log
    got = sorted((out_dir / n).read_bytes() for n in os.listdir(out_dir))
    assert len(got) == 2 and b"Subject: fetch 0" in got[0], log
    # fetchmail deleted what it fetched, at store A.
    assert message_files(env.maildir(env.alice)) == []


@pytest.mark.parametrize("pipelined", [False, True])
def test_compressed_session_ends_without_a_plain_bye(env, pipelined):
    """COMPRESS=DEFLATE (RFC 4978) through the proxy: the backend's
    stream is relayed opaquely, so when it closes after LOGOUT the proxy
    must not add a "* BYE" of its own in plain text (it would corrupt the
    client's inflater; mbsync said "unexpected reply: pgging out")."""
    import socket
    import zlib
    s = socket.create_connection(("127.0.0.1", env.proxy.port("imapp")), 10)
    data = b""
    login = ('a LOGIN "%s" "%s"\r\n' % (env.alice, PASSWORD)).encode()
    if pipelined:   # behind the login, relayed when relaying starts
        s.sendall(login + b"c COMPRESS DEFLATE\r\n")
    else:
        s.sendall(login)
        while b"a OK" not in data:
            chunk = s.recv(65536)
            assert chunk, data
            data += chunk
        s.sendall(b"c COMPRESS DEFLATE\r\n")
    while b"c OK" not in data:
        chunk = s.recv(65536)
        assert chunk, data
        data += chunk
    rest = data.split(b"c OK", 1)[1].split(b"\r\n", 1)[1]
    out = zlib.compressobj(wbits=-15)
    s.sendall(out.compress(b"d LOGOUT\r\n") + out.flush(zlib.Z_SYNC_FLUSH))
    rest += s.makefile("rb").read()     # to the end
    s.close()
    plain = zlib.decompressobj(wbits=-15).decompress(rest)
    assert plain.startswith(b"* BYE"), plain
    assert plain.endswith(b"d OK Logout completed\r\n"), plain
