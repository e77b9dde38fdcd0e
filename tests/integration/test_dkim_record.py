"""DKIM keys named in the domain record of the routing directory (issue
18; dkim_domain.h, ispmailctl dkim, smtpd_authres.c), with the file
backend and with a real slapd: `ispmailctl dkim keygen` writes the key
file and the selectors into the record, smtpd signs with what the record
names and dkimpy verifies the signatures against the TXT records keygen
printed, served by dnsmasq; `dkim rotate` adds the new selector with
start = now + TTL and retires the old one then, both published; an old
selectors file still signs and `dkim migrate` moves it into the record;
`ispmail-master -t` checks the key files records name.  The domain's
DMARC policy (dmarc= / ispmailDmarcPolicy) is in test_sender_auth_junk.py
(file backend, to the Junk folder) and here for LDAP (the queue file's
folder records)."""

import os
import re
import smtplib
import subprocess
import time

import dkim
import pytest

import dnsutil
import harness
import mailutil
import slapd as slapd_fixture
import tlsutil
from test_sender_auth import (clear_queue, delivered, dkim_txt_of,
                              dns_lookup,
                              folder_records, msg, openssl_key, queued,
                              shift_record_times, submit,
                              txt_record_option)
from test_sender_auth_junk import send as send_mx


@pytest.fixture(scope="module")
def certs():
    return tlsutil.make_certs()


def published(output):
    """{name: TXT text} of the zone-file lines ispmailctl printed."""
    return {name: "".join(re.findall(r'"([^"]*)"', strings))
            for name, strings in re.findall(r'^(\S+)\. IN TXT \( (.*) \)$',
                                            output, re.M)}


def ctl_ok(inst, *args):
    r = inst.ctl(*args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def serve(tmp_path, name, records):
    server = dnsutil.DnsServer(str(tmp_path / name), zone=list(
        dnsutil.TEST_ZONE) + [txt_record_option(n, t)
                              for n, t in records.items()])
    server.start()
    return server


def signatures(fields):
    return sorted(re.search(rb"s=([A-Za-z0-9-]+)", f).group(1).decode()
                  for f in fields if f.startswith(b"DKIM-Signature:"))


def verify_all(fields, message, lookup):
    whole = delivered(fields, message)
    d = dkim.DKIM(whole)
    count = len(signatures(fields))
    assert count > 0, fields
    for i in range(count):
        assert d.verify(idx=i, dnsfunc=lookup), (i, whole[:1500])


def signed_with(inst, subject, server):
    """Submit a message; the selectors of its signatures, each verified
    by dkimpy against the keys server publishes."""
    clear_queue(inst)
    submit(inst, msg("alice@example.test", subject))
    fields, message = queued(inst)
    verify_all(fields, message, dns_lookup(server))
    return signatures(fields)


def new_instance(make_instance, certs, extra=None):
    inst = make_instance(services=mailutil.smtpd_services(maxproc=2)[:2])
    inst.params.update(mailutil.base_params(inst, certs))
    inst.params.update({"smtpd_direct_delivery": "no",
                        "dns_timeout": "2s", "dns_tries": "1"})
    inst.params.update(extra or {})
    inst.write_main_conf()
    inst.certs = certs
    return inst


def record_values(inst):
    """The dkim= values of example.test's record in the routes file."""
    with open(os.path.join(inst.config_dir, "routes")) as f:
        text = f.read()
    m = re.search(r"^domain example\.test local.*?(?=^\S)", text + "\nx",
                  re.M | re.S)
    assert m, text
    found = re.search(r"dkim=(\S+)", m.group(0))
    return found.group(1).split(",") if found else []


def test_keygen_record_signs_verified(make_instance, certs, tmp_path):
    inst = new_instance(make_instance, certs)
    mailutil.provision(inst)
    out = ctl_ok(inst, "dkim", "keygen", "example.test", "--selector", "rec")
    records = published(out.stdout)
    assert sorted(records) == ["rec-ed25519._domainkey.example.test",
                               "rec-rsa._domainkey.example.test"], out.stdout
    values = record_values(inst)
    assert [v.split(":")[:3] for v in values] == [
        ["rec-rsa", "rsa", "example.test/rec-rsa.key"],
        ["rec-ed25519", "ed25519", "example.test/rec-ed25519.key"]], values
    for v in values:
        sel, _, path, start, retire = v.split(":")
        assert retire == "0" and abs(int(start) - time.time()) < 120, v
        st = os.stat(os.path.join(inst.config_dir, "dkim", path))
        assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)
    show = ctl_ok(inst, "domain", "show", "example.test").stdout
    assert show.count("dkim: rec-") == 2, show
    # No selectors file: the record is where the keys are named.
    assert not os.path.exists(os.path.join(inst.config_dir, "dkim",
                                           "example.test", "selectors"))
    server = serve(tmp_path, "dns", records)
    try:
        inst.start()
        assert signed_with(inst, "record signed", server) == [
            "rec-ed25519", "rec-rsa"]
        inst.wait_for_log(r"dkim signed d=example\.test s=rec-rsa")
    finally:
        server.stop()
    # keygen again refuses: the record names signing keys.
    again = inst.ctl("dkim", "keygen", "example.test")
    assert again.returncode == 1 and "use dkim rotate" in again.stderr
    # A domain the directory does not hold gets no keys.
    none = inst.ctl("dkim", "keygen", "nowhere.test")
    assert none.returncode == 1 and "no such domain" in none.stderr, \
        none.stderr
    # A symbolic link planted for a domain's key directory (its owner,
    # mail_owner, could) is not followed: no key lands where it points.
    ctl_ok(inst, "domain", "add", "planted.test")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(str(elsewhere), os.path.join(inst.config_dir, "dkim",
                                            "planted.test"))
    planted = inst.ctl("dkim", "keygen", "planted.test")
    assert planted.returncode == 1, planted.stdout
    assert "planted.test: Too many levels of symbolic links" in \
        planted.stderr or "Not a directory" in planted.stderr, planted.stderr
    assert os.listdir(str(elsewhere)) == []
    assert "dkim:" not in ctl_ok(inst, "domain", "show",
                                 "planted.test").stdout


def test_rotate_both_published_new_signs_after_start(make_instance, certs,
                                                     tmp_path):
    inst = new_instance(make_instance, certs)
    mailutil.provision(inst)
    first = published(ctl_ok(inst, "dkim", "keygen", "example.test").stdout)
    inst.start()
    out = ctl_ok(inst, "-o", "dkim_key_ttl=1m", "dkim", "rotate",
                 "example.test")
    second = published(out.stdout)
    assert len(second) == 2 and not set(second) & set(first), out.stdout
    values = record_values(inst)
    assert len(values) == 4, values
    now = time.time()
    old = [v.split(":") for v in values if v.split(":")[0] + "._domainkey."
           "example.test" in first]
    new = [v.split(":") for v in values if v.split(":")[0] + "._domainkey."
           "example.test" in second]
    assert len(old) == 2 and len(new) == 2, values
    # The new key starts when the old one retires: now + dkim_key_ttl.
    for o, n in zip(sorted(old, key=lambda v: v[1]),
                    sorted(new, key=lambda v: v[1])):
        assert o[4] == n[3] and 50 < int(n[3]) - now < 70, (o, n)
    # Both are published: dkim show prints a record for all four.
    show = ctl_ok(inst, "dkim", "show", "example.test").stdout
    assert "source=routing directory" in show, show
    assert sorted(published(show)) == sorted(list(first) + list(second))
    assert len(re.findall(r"state=pending", show)) == 2, show
    server = serve(tmp_path, "dns", dict(first, **second))
    try:
        # Within the TTL the old selectors sign...
        assert signed_with(inst, "before the start", server) == sorted(
            n.split("._domainkey.")[0] for n in first)
        # ...after the start the new ones, both verifying.
        shift_record_times(inst, 120)
        assert signed_with(inst, "after the start", server) == sorted(
            n.split("._domainkey.")[0] for n in second)
    finally:
        server.stop()
    # The next rotate retires the old keys: their values and files go.
    out = ctl_ok(inst, "-o", "dkim_key_ttl=1m", "dkim", "rotate",
                 "example.test")
    assert out.stdout.count("retired selector") == 2, out.stdout
    names = [v.split(":")[0] for v in record_values(inst)]
    for name in first:
        sel = name.split("._domainkey.")[0]
        assert sel not in names, names
        assert not os.path.exists(os.path.join(
            inst.config_dir, "dkim", "example.test", sel + ".key"))


def test_selectors_file_signs_until_migrated(make_instance, certs, tmp_path):
    """An old selectors file still signs while the record names nothing;
    `dkim migrate` moves it into the record, the same key signing."""
    inst = new_instance(make_instance, certs)
    mailutil.provision(inst)
    keydir = os.path.join(inst.config_dir, "dkim", "example.test")
    os.makedirs(keydir)
    key = os.path.join(keydir, "legacy.key")
    openssl_key(key, "rsa")
    os.chmod(key, 0o600)
    with open(os.path.join(keydir, "selectors"), "w") as f:
        f.write("legacy rsa 1 0\n")
    records = {"legacy._domainkey.example.test": dkim_txt_of(key, "rsa")}
    server = serve(tmp_path, "dns", records)
    try:
        inst.start()
        show = ctl_ok(inst, "dkim", "show", "example.test").stdout
        assert "source=%s/selectors" % keydir in show, show
        assert signed_with(inst, "from the file", server) == ["legacy"]
        out = ctl_ok(inst, "dkim", "migrate", "example.test")
        assert "in the routing directory now" in out.stdout, out.stdout
        assert record_values(inst) == [
            "legacy:rsa:example.test/legacy.key:1:0"]
        assert not os.path.exists(os.path.join(keydir, "selectors"))
        assert os.path.exists(os.path.join(keydir, "selectors.migrated"))
        assert signed_with(inst, "from the record", server) == ["legacy"]
        again = ctl_ok(inst, "dkim", "migrate", "example.test")
        assert "already" in again.stdout, again.stdout
    finally:
        server.stop()


def test_master_check_record_key_files(make_instance, certs, tmp_path):
    """-t checks the files records name, wherever they are, and their
    values."""
    inst = new_instance(make_instance, certs)
    inst.write_master_conf()
    mailutil.provision(inst)
    outside = tmp_path / "keys"
    outside.mkdir()
    key = str(outside / "abs.key")
    openssl_key(key, "rsa")
    os.chmod(key, 0o600)
    missing = str(outside / "gone.key")

    def check():
        return subprocess.run([harness.MASTER, "-t", "-c", inst.config_dir],
                              capture_output=True, text=True, timeout=30)
    ctl_ok(inst, "dkim", "keygen", "example.test", "--type", "rsa")
    r = check()
    assert r.returncode == 0 and "dkim key" not in r.stderr, r.stderr
    path = os.path.join(inst.config_dir, "routes")
    with open(path) as f:
        text = f.read()
    text = text.replace("domain backup.test relay",
                        "domain backup.test relay dkim=a:rsa:%s,b:rsa:%s"
                        % (key, missing))
    with open(path, "w") as f:
        f.write(text)
    os.chmod(key, 0o640)
    r = check()
    assert r.returncode == 1, r.stderr
    assert "dkim key %s: mode 0640: readable by others than its owner" \
        % key in r.stderr, r.stderr
    assert "dkim key %s: No such file or directory" % missing in r.stderr
    os.chmod(key, 0o600)
    os.symlink(key, missing)
    r = check()
    assert "dkim key %s: not a regular file" % missing in r.stderr, r.stderr
    os.unlink(missing)
    os.link(key, missing)
    r = check()
    assert r.returncode == 0, r.stderr


# ---- LDAP --------------------------------------------------------------

@pytest.fixture
def slapd(tmp_path):
    with slapd_fixture.Slapd(tmp_path) as server:
        yield server


def ldap_instance(make_instance, certs, slapd, tmp_path, extra=None):
    params = slapd_fixture.ispmail_params(slapd, tmp_path)
    params.update(extra or {})
    inst = new_instance(make_instance, certs, params)
    ctl_ok(inst, "domain", "add", "example.test",
           "mailhost=localhost")
    for user in ("alice", "bob"):
        inst.ctl("mailbox", "add", "%s@example.test" % user,
                 "--password-stdin", input=mailutil.PASSWORD + "\n")
    return inst


def test_ldap_keygen_record_signs_verified(make_instance, certs, slapd,
                                          tmp_path):
    inst = ldap_instance(make_instance, certs, slapd, tmp_path)
    out = ctl_ok(inst, "dkim", "keygen", "example.test", "--selector", "ld")
    records = published(out.stdout)
    assert len(records) == 2, out.stdout
    entry = slapd.ldapsearch("(ispmailDomainName=example.test)",
                             "ispmailDkimSelector")
    values = sorted(re.findall(r"^ispmailDkimSelector: (\S+)$", entry, re.M))
    assert [v.split(":")[:3] for v in values] == [
        ["ld-ed25519", "ed25519", "example.test/ld-ed25519.key"],
        ["ld-rsa", "rsa", "example.test/ld-rsa.key"]], entry
    server = serve(tmp_path, "dns", records)
    try:
        inst.start()
        assert signed_with(inst, "ldap signed", server) == [
            "ld-ed25519", "ld-rsa"]
        # A value smtpd cannot use: 451, never mail going out unsigned.
        slapd.ldapmodify("dn: ispmailDomainName=example.test,%s\n"
                         "changetype: modify\nadd: ispmailDkimSelector\n"
                         "ispmailDkimSelector: bad:rsa\n" % slapd.base_dn)
        inst.stop()
        inst.start()
        clear_queue(inst)
        s = smtplib.SMTP("127.0.0.1", inst.port("submission"), timeout=30)
        try:
            s.ehlo("laptop.example.net")
            s.starttls(context=tlsutil.client_context(certs))
            s.ehlo("laptop.example.net")
            s.login("alice@example.test", mailutil.PASSWORD)
            with pytest.raises(smtplib.SMTPDataError) as e:
                s.sendmail("alice@example.test", ["x@far.example"],
                           msg("alice@example.test", "bad key"))
            assert e.value.smtp_code == 451, e.value
        finally:
            s.close()
        assert mailutil.queue_files(inst) == []
        # Its mail still routes: the value fails signing only.
        r = ctl_ok(inst, "route", "alice@example.test")
        assert "alice@example.test" in r.stdout
        r = subprocess.run([harness.MASTER, "-t", "-c", inst.config_dir],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and "dkim keys of example.test: DKIM " \
            "key \"bad:rsa\"" in r.stderr, r.stderr
    finally:
        server.stop()


def test_ldap_domain_dmarc_policy(make_instance, certs, slapd, tmp_path):
    """ispmailDmarcPolicy on the domain entry: junk takes p=reject mail
    into Junk for the domain's mailboxes; a mailbox's own value wins."""
    zone = ["--txt-record=bank.test,v=spf1 ip4:192.0.2.50 -all",
            "--txt-record=_dmarc.bank.test,v=DMARC1; p=reject"]
    server = dnsutil.DnsServer(str(tmp_path / "dns"),
                               zone=list(dnsutil.TEST_ZONE) + zone)
    server.start()
    try:
        inst = ldap_instance(make_instance, certs, slapd, tmp_path, {
            "smtpd_sender_auth": "yes", "dns_servers": server.address,
            "proxy_trusted_networks": "127.0.0.0/8",
            "ldap_domain_cache_ttl": "0"})
        ctl_ok(inst, "domain", "set", "example.test", "dmarc=junk")
        assert "ispmailDmarcPolicy: junk" in slapd.ldapsearch(
            "(ispmailDomainName=example.test)", "ispmailDmarcPolicy")
        assert "dmarc: junk" in ctl_ok(inst, "domain", "show",
                                       "example.test").stdout
        inst.start()
        clear_queue(inst)
        code, text = send_mx(inst, "service@bank.test",
                             ["alice@example.test"], "urgent")
        assert code == 250, text
        assert len(folder_records(inst)) == 1
        clear_queue(inst)
        # bob honours: his value wins over the domain's.
        ctl_ok(inst, "mailbox", "set", "bob@example.test", "dmarc=honour")
        inst.stop()
        inst.start()
        code, text = send_mx(inst, "service@bank.test", ["bob@example.test"],
                             "urgent again")
        assert code == 550 and text.startswith("5.7.1 "), (code, text)
    finally:
        server.stop()
