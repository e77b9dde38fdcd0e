"""One password check per proxied login (proxy_login.h): proxyd checks the
client's password through authd, then logs in at the store's imapd or
popd as ispmail-proxy with the token of proxy_login_token_file, which the
store takes only from proxy_trusted_networks and only when the token's
SHA-256 is in proxy_login_token_digests.  The count of password hashes
(ispmail_password_hashes_total, every crypt() of a login check) shows
where a login was paid for."""

import hashlib
import imaplib
import os
import poplib
import re
import secrets
import subprocess

import pytest

import harness
import proxydutil
from proxydutil import Env, PASSWORD, read_subjects

PROXY_ADDR = "127.0.0.1"
TRUST_PROXY = {"proxy_trusted_networks": PROXY_ADDR + "/32"}


def make_token(tmp_path, name="proxy.token"):
    """A fresh token in a mode 600 file: (path, token, its digest)."""
    token = secrets.token_hex(32)
    path = str(tmp_path / name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, (token + "\n").encode())
    os.close(fd)
    return path, token, hashlib.sha256(token.encode()).hexdigest()


def hashes(inst):
    """How many password hashes inst's processes computed."""
    r = inst.ctl("metrics")
    assert r.returncode == 0, r.stderr
    m = re.search(r"^ispmail_password_hashes_total (\d+)", r.stdout, re.M)
    return int(m.group(1)) if m else 0


def token_env(make_instance, tmp_path, store_digest="right",
              proxy_token=True, protocol="native"):
    """Two stores and a proxy; store_digest "right", "wrong" or None (a
    store without proxy logins)."""
    path, token, digest = make_token(tmp_path)
    store = dict(TRUST_PROXY)
    if store_digest == "right":
        store["proxy_login_token_digests"] = digest
    elif store_digest == "wrong":
        store["proxy_login_token_digests"] = hashlib.sha256(
            b"another token").hexdigest()
    proxy = {"proxy_backend_protocol": protocol}
    if proxy_token:
        proxy["proxy_login_token_file"] = path
    e = Env(make_instance, proxy_params=proxy, store_params=store,
            store_options={"proxy_protocol": "yes"}
            if protocol == "haproxy" else None)
    e.token, e.token_path = token, path
    return e


def plain(authzid, authcid, password):
    return lambda _: ("%s\0%s\0%s" % (authzid, authcid, password)).encode()


@pytest.mark.parametrize("protocol", ["native", "haproxy"])
def test_logins_cost_the_store_no_password_hash(make_instance, tmp_path,
                                                protocol):
    e = token_env(make_instance, tmp_path, protocol=protocol)
    e.deliver(e.alice, "for alice")
    e.deliver(e.bob, "for bob")
    logins = 0
    for _ in range(3):
        c = e.imaps()
        typ, data = c.login(e.alice, PASSWORD)
        assert typ == "OK", data
        # The store's own tagged OK, relayed under the client's tag.
        assert b"CAPABILITY" in data[0] and b"IDLE" in data[0], data
        assert read_subjects(c) == ["Subject: for alice"]
        c.logout()
        logins += 1
    for _ in range(2):
        p = e.pop3s()
        p.user(e.bob)
        assert p.pass_(PASSWORD).startswith(b"+OK")
        assert b"Subject: for bob" in b"\n".join(p.retr(1)[1])
        p.quit()
        logins += 1
    client = proxydutil.CLIENT_ADDR
    e.store_a.wait_for_log(r"imapd\[\d+\]: login user=%s method=proxy "
                           r"client=%s via proxy %s"
                           % (e.alice, client, PROXY_ADDR))
    e.store_b.wait_for_log(r"popd\[\d+\]: login %s from %s via proxy %s: "
                           r"1 messages" % (e.bob, client, PROXY_ADDR))
    # The proxy paid one hash a login (authd), the stores none.
    assert hashes(e.store_a) == 0
    assert hashes(e.store_b) == 0
    assert hashes(e.proxy) == logins
    assert "method=plain" not in e.store_a.log()
    assert "refused the proxy login token" not in e.proxy.log()


@pytest.mark.parametrize("case", ["wrong", None, "no proxy token"])
def test_mixed_configurations_log_in_with_the_password(make_instance,
                                                       tmp_path, case):
    """A store with another digest or none (an older store), or a proxy
    without a token file (an older proxy): the login works as before,
    the store checks the password, and a refused token is logged at
    error level on both sides."""
    if case == "no proxy token":
        e = token_env(make_instance, tmp_path, proxy_token=False)
    else:
        e = token_env(make_instance, tmp_path, store_digest=case)
    c = e.imaps()
    assert c.login(e.alice, PASSWORD)[0] == "OK"
    assert c.select("INBOX") == ("OK", [b"0"])
    c.logout()
    p = e.pop3s()
    p.user(e.bob)
    assert p.pass_(PASSWORD).startswith(b"+OK")
    p.quit()
    e.store_a.wait_for_log(r"imapd\[\d+\]: login user=%s method=plain "
                           r"client=%s" % (e.alice, proxydutil.CLIENT_ADDR))
    e.store_b.wait_for_log(r"popd\[\d+\]: login %s from %s: "
                           % (e.bob, proxydutil.CLIENT_ADDR))
    assert hashes(e.store_a) == 1 and hashes(e.store_b) == 1
    if case == "no proxy token":
        assert "proxy login" not in e.store_a.log()
        return
    why = ("wrong token" if case == "wrong"
           else "proxy_login_token_digests is empty here")
    for store, user in ((e.store_a, e.alice), (e.store_b, e.bob)):
        store.wait_for_log(r"error: proxy login refused user=%s client=%s "
                           r"proxy=%s: %s" % (user, proxydutil.CLIENT_ADDR,
                                              PROXY_ADDR, why))
        e.proxy.wait_for_log(r"error: proxy: user=%s backend=[\d.]+ "
                             r"refused the proxy login token" % user)


def test_direct_client_cannot_use_the_proxy_identity(make_instance,
                                                     tmp_path):
    e = token_env(make_instance, tmp_path)
    port_imap, port_pop3 = e.ports["imap"], e.ports["pop3"]
    # The right token, but from a client, not a proxy: a failed login.
    c = proxydutil.IMAP4_From(proxydutil.CLIENT_ADDR, proxydutil.STORE_A,
                              port_imap, timeout=10)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.authenticate("PLAIN", plain(e.alice, "ispmail-proxy", e.token))
    # Naming itself the proxy with ID changes nothing.
    c.xatom("ID", '("x-originating-ip" "%s")' % PROXY_ADDR)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.authenticate("PLAIN", plain(e.alice, "ispmail-proxy", e.token))
    c.logout()
    e.store_a.wait_for_log(r"proxy login refused user=%s client=%s: %s is "
                           r"not in proxy_trusted_networks"
                           % (e.alice, proxydutil.CLIENT_ADDR,
                              proxydutil.CLIENT_ADDR))
    e.store_a.wait_for_log(r"login failed user=%s method=proxy client=%s: "
                           r"not a trusted proxy"
                           % (e.alice, proxydutil.CLIENT_ADDR))
    p = proxydutil.POP3_From(proxydutil.CLIENT_ADDR, proxydutil.STORE_B,
                             port_pop3, timeout=10)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Authentication "
                       r"failed"):
        p._shortcmd("AUTH PLAIN " + b64(e.bob, "ispmail-proxy", e.token))
    p.quit()
    e.store_b.wait_for_log(r"proxy login refused user=%s client=%s: %s is "
                           r"not in proxy_trusted_networks"
                           % (e.bob, proxydutil.CLIENT_ADDR,
                              proxydutil.CLIENT_ADDR))
    # From the proxy's address a wrong token is refused, loudly.
    c = proxydutil.IMAP4_From(PROXY_ADDR, proxydutil.STORE_A, port_imap,
                              timeout=10)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHORIZATIONFAILED"):
        c.authenticate("PLAIN", plain(e.alice, "ispmail-proxy",
                                      e.token[:-1] + "x"))
    # The identity is no mailbox: its token is no password for it.
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.login("ispmail-proxy", e.token)
    typ, _ = c.authenticate("PLAIN", plain(e.alice, "ispmail-proxy",
                                           e.token))
    assert typ == "OK"
    c.logout()
    e.store_a.wait_for_log(r"error: proxy login refused user=%s client=%s "
                           r"proxy=%s: wrong token"
                           % (e.alice, PROXY_ADDR, PROXY_ADDR))
    p = proxydutil.POP3_From(PROXY_ADDR, proxydutil.STORE_B, port_pop3,
                             timeout=10)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Proxy login "
                       r"refused"):
        p._shortcmd("AUTH PLAIN " + b64(e.bob, "ispmail-proxy", "x" * 64))
    assert p._shortcmd("AUTH PLAIN " + b64(e.bob, "ispmail-proxy",
                                           e.token)).startswith(b"+OK")
    p.quit()
    # No password was hashed for any of it (the wrong password above was
    # for a mailbox that does not exist: the dummy hash).
    assert hashes(e.store_a) == 1 and hashes(e.store_b) == 0


def b64(authzid, authcid, password):
    import base64
    return base64.b64encode(("%s\0%s\0%s" % (authzid, authcid, password))
                            .encode()).decode()


def test_failed_password_never_reaches_the_store(make_instance, tmp_path):
    e = token_env(make_instance, tmp_path)
    c = e.imaps()
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.login(e.alice, "wrong-" + PASSWORD)
    c.logout()
    p = e.pop3s()
    p.user(e.bob)
    with pytest.raises(poplib.error_proto):
        p.pass_("wrong-" + PASSWORD)
    p.quit()
    e.proxy.wait_for_log(r"proxy: login failed user=%s client=%s"
                         % (e.bob, proxydutil.CLIENT_ADDR))
    assert hashes(e.proxy) == 2
    for store in (e.store_a, e.store_b):
        assert "connect from" not in store.log()
        assert hashes(store) == 0


def test_master_checks_the_token_file(make_instance, tmp_path):
    """ispmail-master -t reads the token file as proxyd does and parses
    the digests."""
    e = token_env(make_instance, tmp_path)
    inst, path = e.proxy, e.token_path

    def check(**params):
        inst.params.update(params)
        inst.write_main_conf()
        return subprocess.run([harness.MASTER, "-t", "-c", inst.config_dir],
                              capture_output=True, text=True, timeout=10)

    r = check(proxy_login_token_file=path)
    assert r.returncode == 0, r.stderr
    os.chmod(path, 0o644)
    r = check()
    assert r.returncode == 1
    assert "proxy_login_token_file %s: mode 0644: make it chmod 600 or " \
        "640" % path in r.stderr, r.stderr
    os.chmod(path, 0o600)
    link = str(tmp_path / "token.link")
    os.symlink(path, link)
    r = check(proxy_login_token_file=link)
    assert r.returncode == 1
    assert "a symbolic link is not followed" in r.stderr, r.stderr
    short = str(tmp_path / "short.token")
    fd = os.open(short, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"guessable\n")
    os.close(fd)
    r = check(proxy_login_token_file=short,
              proxy_login_token_digests="not-a-digest")
    assert r.returncode == 1
    assert "the token has 9 characters, not 32 to 512" in r.stderr, r.stderr
    assert 'proxy_login_token_digests: "not-a-digest" is not a SHA-256 ' \
        'digest' in r.stderr, r.stderr
