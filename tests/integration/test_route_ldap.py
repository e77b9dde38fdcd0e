"""The LDAP routing backend against a real slapd (tests/integration/slapd.py).

Each test gets its own slapd (it starts in well under a second) loaded
with conf/ispmail.ldif, provisions it with `ispmailctl domain|mailbox|
alias|forward|relay` (route_backend = ldap) and resolves addresses with
`ispmailctl route`, as an operator would.

What the cache test counts: slapd logs every search ("SRCH base="), so a
lookup served from the per-process cache is one slapd never sees.
`ispmailctl route A A` resolves A twice in one process.
"""

import os
import re
import time

import pytest

import slapd as slapd_fixture

TEMPFAIL = 75   # CTL_EXIT_TEMPFAIL (EX_TEMPFAIL)


@pytest.fixture
def slapd(tmp_path):
    with slapd_fixture.Slapd(tmp_path) as server:
        yield server


@pytest.fixture
def ctl(make_instance, slapd, tmp_path):
    """ispmailctl against an instance whose routing directory is slapd;
    ctl.reconfigure(**params) rewrites main.conf."""
    inst = make_instance(params=slapd_fixture.ispmail_params(slapd, tmp_path))
    inst.write_main_conf()

    def run(*args, input=None, expect=0):
        result = inst.ctl(*args, input=input)
        if expect is not None:
            assert result.returncode == expect, (
                "ispmailctl %s: exit %d, expected %d\nstdout: %s\nstderr: %s"
                % (" ".join(args), result.returncode, expect, result.stdout,
                   result.stderr))
        return result

    def reconfigure(**params):
        inst.write_main_conf(params)

    run.reconfigure = reconfigure
    run.instance = inst
    return run


def provision(ctl):
    ctl("domain", "add", "example.test")
    ctl("domain", "add", "alias.test", "alias", "target=example.test")
    ctl("domain", "add", "backup.test", "relay", "relayhost=mx.primary.test")
    ctl("mailbox", "add", "alice@example.test", "alt=a.smith@example.test",
        "quota=1048576", "--password-stdin", input="alice-secret\n")
    ctl("mailbox", "add", "bob@example.test", "filter=aggressive",
        "archive=yes", "class=bulk")
    ctl("alias", "add", "sales@example.test", "alice@example.test",
        "partner@remote.test")
    ctl("relay", "add", "known@backup.test")


def deliveries(output):
    return re.findall(r"^  deliver: (\S+) (.*)$", output, re.M)


# ---- provisioning and resolving ---------------------------------------------

def test_entries_follow_the_documented_layout(ctl, slapd):
    provision(ctl)
    base = slapd.base_dn
    dns = set(re.findall(r"^dn: (.*)$", slapd.ldapsearch(
        "(|(objectClass=ispmailDomain)(mail=*))", "dn"), re.M))
    assert dns == {
        "ispmailDomainName=example.test," + base,
        "ispmailDomainName=alias.test," + base,
        "ispmailDomainName=backup.test," + base,
        "mail=alice@example.test,ispmailDomainName=example.test," + base,
        "mail=bob@example.test,ispmailDomainName=example.test," + base,
        "mail=sales@example.test,ispmailDomainName=example.test," + base,
        "mail=known@backup.test,ispmailDomainName=backup.test," + base,
    }
    alice = slapd.ldapsearch("(mail=alice@example.test)")
    assert "objectClass: inetLocalMailRecipient" in alice
    assert "mailLocalAddress: a.smith@example.test" in alice
    assert "ispmailQuota: 1048576" in alice
    # A crypt(3) hash that slapd itself can check.
    assert re.search(r"^userPassword:: ", alice, re.M)
    sales = slapd.ldapsearch("(mail=sales@example.test)")
    assert "objectClass: ispmailAlias" in sales
    assert "ispmailAliasTarget: partner@remote.test" in sales


def test_route_resolves_every_kind(ctl):
    provision(ctl)

    out = ctl("route", "alice@example.test").stdout
    assert "domain example.test: local" in out
    assert deliveries(out) == [("alice@example.test", "mailbox host=localhost "
        "path=%s/example.test/alice quota=1048576 state=active "
        "policy=standard archive=no class=default"
        % ctl.instance.store_dir)]

    # Case-blind, and through the alternate address.
    out = ctl("route", "Alice@EXAMPLE.test").stdout
    assert deliveries(out)[0][0] == "alice@example.test"
    out = ctl("route", "a.smith@example.test").stdout
    assert deliveries(out)[0][0] == "alice@example.test"

    out = ctl("route", "bob@example.test").stdout
    assert "policy=aggressive archive=yes class=bulk" in out

    out = ctl("route", "alice@alias.test").stdout
    assert "domain alias.test: alias -> example.test" in out
    assert deliveries(out)[0][0] == "alice@example.test"

    out = ctl("route", "sales@example.test").stdout
    assert sorted(d[0] for d in deliveries(out)) == [
        "alice@example.test", "partner@remote.test"]
    assert ("partner@remote.test", "remote (smtp)") in deliveries(out)

    out = ctl("route", "known@backup.test").stdout
    assert "domain backup.test: relay" in out
    assert deliveries(out) == [("known@backup.test",
                                "relay to mx.primary.test")]

    out = ctl("route", "nobody@example.test", expect=1).stdout
    assert "unknown" in out
    out = ctl("route", "stranger@backup.test", expect=1).stdout
    assert "unknown" in out
    out = ctl("route", "someone@elsewhere.test").stdout
    assert "not ours" in out


def test_forward_with_and_without_copy(ctl):
    provision(ctl)
    ctl("forward", "add", "bob@example.test", "bob@remote.test")
    out = ctl("route", "bob@example.test").stdout
    assert [d[0] for d in deliveries(out)] == ["bob@remote.test"]

    ctl("forward", "add", "bob@example.test", "bob2@remote.test", "--keep")
    out = ctl("forward", "show", "bob@example.test").stdout
    assert out.splitlines() == ["forward: bob@remote.test",
                                "forward: bob2@remote.test", "keepcopy: yes"]
    out = ctl("route", "bob@example.test").stdout
    assert sorted(d[0] for d in deliveries(out)) == [
        "bob2@remote.test", "bob@example.test", "bob@remote.test"]

    ctl("forward", "del", "bob@example.test")
    out = ctl("route", "bob@example.test").stdout
    assert [d[0] for d in deliveries(out)] == ["bob@example.test"]


def test_show_set_list_and_delete(ctl, slapd):
    provision(ctl)
    out = ctl("mailbox", "show", "alice@example.test").stdout
    assert "alt: a.smith@example.test" in out
    assert "password: set" in out

    ctl("mailbox", "set", "alice@example.test", "state=suspended",
        "quota=0", "alt=")
    out = ctl("mailbox", "show", "alice@example.test").stdout
    assert "state: suspended" in out and "quota: 0" in out
    assert "alt:" not in out
    assert "mailLocalAddress" not in slapd.ldapsearch(
        "(mail=alice@example.test)")
    # The DMARC policy: an attribute when set, none for the default.
    assert "dmarc: default" in out
    ctl("mailbox", "set", "alice@example.test", "dmarc=junk")
    assert "dmarc: junk" in ctl("mailbox", "show",
                                "alice@example.test").stdout
    assert "ispmailDmarcPolicy: junk" in slapd.ldapsearch(
        "(mail=alice@example.test)")
    ctl("mailbox", "set", "alice@example.test", "dmarc=default")
    assert "ispmailDmarcPolicy" not in slapd.ldapsearch(
        "(mail=alice@example.test)")

    assert ctl("domain", "list").stdout.split() == [
        "alias.test", "backup.test", "example.test"]
    assert ctl("mailbox", "list", "example.test").stdout.split() == [
        "alice@example.test", "bob@example.test"]
    assert ctl("alias", "list", "example.test").stdout.split() == [
        "sales@example.test"]
    assert ctl("relay", "list", "backup.test").stdout.split() == [
        "known@backup.test"]
    out = ctl("domain", "show", "backup.test").stdout
    assert "kind: relay" in out and "relayhost: mx.primary.test" in out
    # The domain-level archive flag: ispmailArchive on the domain entry,
    # absent again when turned off.
    ctl("domain", "set", "example.test", "archive=yes")
    assert "archive: yes" in ctl("domain", "show", "example.test").stdout
    assert "ispmailArchive: TRUE" in slapd.ldapsearch(
        "(ispmailDomainName=example.test)")
    ctl("domain", "set", "example.test", "archive=no")
    assert "archive:" not in ctl("domain", "show", "example.test").stdout
    assert "ispmailArchive" not in slapd.ldapsearch(
        "(ispmailDomainName=example.test)")

    # A domain with entries stays.
    err = ctl("domain", "del", "example.test", expect=1).stderr
    assert re.search(r"example\.test (still )?has [1-9]", err), err
    ctl("alias", "del", "sales@example.test")
    ctl("mailbox", "del", "bob@example.test")
    ctl("mailbox", "del", "alice@example.test")
    ctl("domain", "del", "alias.test")
    ctl("domain", "del", "example.test")
    assert ctl("domain", "list").stdout.split() == ["backup.test"]
    ctl("relay", "del", "known@backup.test")

    # The backend itself refuses to orphan entries ispmailctl does not
    # list (here one an operator added by hand).
    slapd.ldapmodify("dn: ou=notes,ispmailDomainName=backup.test,%s\n"
                     "changetype: add\nobjectClass: organizationalUnit\n"
                     "ou: notes\n" % slapd.base_dn)
    err = ctl("domain", "del", "backup.test", expect=1).stderr
    assert "domain backup.test has 1 entry" in err
    slapd.ldapmodify("dn: ou=notes,ispmailDomainName=backup.test,%s\n"
                     "changetype: delete\n" % slapd.base_dn)
    ctl("domain", "del", "backup.test")
    assert ctl("domain", "list").stdout.split() == []


def test_bad_provisioning_is_refused(ctl):
    provision(ctl)
    err = ctl("domain", "add", "example.test", expect=1).stderr
    assert "exists" in err
    err = ctl("mailbox", "add", "alice@example.test", "--no-store",
              expect=1).stderr
    assert "exists" in err
    # One address is one entry: not a mailbox and an alias at once.
    err = ctl("mailbox", "add", "sales@example.test", "--no-store",
              expect=1).stderr
    assert "exists" in err
    err = ctl("mailbox", "add", "carol@nosuch.test", "--no-store",
              expect=1).stderr
    assert "nosuch.test" in err
    err = ctl("mailbox", "del", "nobody@example.test", expect=1).stderr
    assert "no such mailbox" in err
    err = ctl("alias", "del", "alice@example.test", expect=1).stderr
    assert "no such alias" in err
    err = ctl("domain", "del", "nosuch.test", expect=1).stderr
    assert "no such domain" in err


# ---- filter escaping ---------------------------------------------------------

def test_filter_metacharacters_cannot_widen_a_search(ctl, slapd):
    provision(ctl)
    # Unescaped, (mail=a*@example.test) would match alice@example.test.
    out = ctl("route", "a*@example.test", expect=1).stdout
    assert "unknown" in out and "deliver" not in out
    err = ctl("mailbox", "show", "*@example.test", expect=1).stderr
    assert "no such mailbox" in err
    # ')' and '(' reach the filter through a quoted local part:
    # (|(mail=x)(mail=*@example.test)...) would match every mailbox.
    out = ctl("route", '"x)(mail=*"@example.test', expect=1).stdout
    assert "deliver" not in out
    err = ctl("mailbox", "show", '"*)(|(mail=*"@example.test',
              expect=1).stderr
    assert "no such mailbox" in err

    # A '*' is a legal local-part character: it is found exactly, and only
    # where it is.
    ctl("mailbox", "add", "a*b@example.test", "--no-store")
    out = ctl("route", "a*b@example.test").stdout
    assert [d[0] for d in deliveries(out)] == ["a*b@example.test"]
    ctl("route", "a*@example.test", expect=1)
    dns = re.findall(r"^dn: (.*)$", slapd.ldapsearch("(mail=a\\2ab*)", "dn"),
                     re.M)
    assert dns == ["mail=a*b@example.test,ispmailDomainName=example.test,"
                   + slapd.base_dn]


# ---- failures are temporary, never "unknown" ---------------------------------

def test_stopped_directory_is_a_temporary_failure(ctl, slapd):
    provision(ctl)
    slapd.stop()
    for address in ("alice@example.test", "nobody@example.test"):
        result = ctl("route", address, expect=TEMPFAIL)
        assert "temporary failure" in result.stdout
        assert "unknown" not in result.stdout
        assert "not ours" not in result.stdout
        assert "unreachable" in result.stdout
    err = ctl("mailbox", "add", "carol@example.test", "--no-store",
              expect=None)
    assert err.returncode != 0 and "unreachable" in err.stderr
    out = ctl("auth", "alice@example.test", input="alice-secret\n",
              expect=TEMPFAIL)
    assert "temporary failure" in out.stderr

    # Back up with the same data: answers again.
    slapd.start()
    ctl("route", "alice@example.test")


def test_hung_directory_times_out_as_temporary_failure(ctl, slapd):
    provision(ctl)
    ctl.reconfigure(ldap_search_timeout="1s", ldap_connect_timeout="1s")
    slapd.pause()
    try:
        started = time.monotonic()
        result = ctl("route", "alice@example.test", expect=TEMPFAIL)
        elapsed = time.monotonic() - started
    finally:
        slapd.resume()
    assert "temporary failure" in result.stdout
    assert elapsed < 8, "took %.1fs despite 1s timeouts" % elapsed


def test_second_uri_answers_when_the_first_is_dead(ctl, slapd):
    provision(ctl)
    dead = "ldap://127.0.0.1:%d/" % slapd_fixture.free_port()
    ctl.reconfigure(ldap_server_uris="%s %s" % (dead, slapd.url))
    result = ctl("route", "alice@example.test")
    assert deliveries(result.stdout)[0][0] == "alice@example.test"
    # Writes fail over too.
    ctl("mailbox", "add", "carol@example.test", "--no-store")
    # Both dead: a temporary failure naming both.
    ctl.reconfigure(ldap_server_uris="%s ldap://127.0.0.1:%d/" % (
        dead, slapd_fixture.free_port()))
    result = ctl("route", "alice@example.test", expect=TEMPFAIL)
    assert dead in result.stdout


def test_cache_serves_repeated_lookups(ctl, slapd):
    provision(ctl)

    def searches(*args):
        before = slapd.search_count()
        ctl(*args, expect=None)
        # slapd writes its log asynchronously to the reply.
        time.sleep(0.2)
        return slapd.search_count() - before

    once = searches("route", "alice@example.test")
    assert once > 0
    twice = searches("route", "alice@example.test", "alice@example.test")
    assert twice == once, "the second lookup went to slapd"
    # Unknown addresses are cached too (negative cache).
    once = searches("route", "nobody@example.test")
    twice = searches("route", "nobody@example.test", "nobody@example.test")
    assert twice == once

    # Without the cache every lookup reaches slapd: the test can fail.
    ctl.reconfigure(ldap_cache_positive_ttl="0", ldap_cache_negative_ttl="0")
    once = searches("route", "alice@example.test")
    twice = searches("route", "alice@example.test", "alice@example.test")
    assert twice == 2 * once


# ---- configuration -----------------------------------------------------------

def test_moving_state_is_kept_in_the_directory(ctl, slapd):
    """ispmailState: moving (ispmail-ldap(5)), written by ispmailctl and
    read back, also when an operator's tool wrote it; a login with the
    right password then fails temporarily, not as a wrong password."""
    provision(ctl)
    ctl("mailbox", "set", "alice@example.test", "state=moving")
    assert "state: moving" in ctl("mailbox", "show",
                                  "alice@example.test").stdout
    entry = slapd.ldapsearch("(mail=alice@example.test)", "ispmailState")
    assert "ispmailState: moving" in entry, entry
    result = ctl("auth", "alice@example.test", input="alice-secret\n",
                 expect=None)
    assert result.returncode == TEMPFAIL, result
    assert "being moved" in result.stdout + result.stderr, result
    assert "refused" not in result.stdout
    # The mailbox still routes to its store (lmtpd defers the delivery).
    out = ctl("route", "alice@example.test").stdout
    assert "deliver: " in out, out

    ctl("mailbox", "set", "alice@example.test", "state=active")
    assert "authenticated" in ctl("auth", "alice@example.test",
                                  input="alice-secret\n").stdout
    # Written by another tool, in another case: read the same.
    dn = "mail=alice@example.test,ispmailDomainName=example.test," \
        + slapd.base_dn
    slapd.ldapmodify("dn: %s\nchangetype: modify\nreplace: ispmailState\n"
                     "ispmailState: MOVING\n" % dn)
    assert "state: moving" in ctl("mailbox", "show",
                                  "alice@example.test").stdout


def test_password_checks(ctl):
    provision(ctl)
    out = ctl("auth", "alice@example.test", input="alice-secret\n").stdout
    assert "authenticated" in out
    out = ctl("auth", "alice@example.test", input="wrong\n", expect=1).stdout
    assert "refused" in out
    ctl("auth", "bob@example.test", input="anything\n", expect=1)


def test_password_check_by_bind(ctl):
    provision(ctl)
    ctl.reconfigure(ldap_auth_bind="yes")
    out = ctl("auth", "alice@example.test", input="alice-secret\n").stdout
    assert "authenticated" in out
    out = ctl("auth", "a.smith@example.test", input="alice-secret\n").stdout
    assert "authenticated" in out
    out = ctl("auth", "alice@example.test", input="wrong\n", expect=1).stdout
    assert "refused" in out


def test_alternate_addresses_only_with_mail_local_address(ctl):
    """ldap_address_attributes: an alternate address (mailLocalAddress)
    routes and logs in by default; with mail alone it is unknown and
    refused, by hash and by bind, while the mailbox's own address is not
    affected."""
    provision(ctl)
    assert "deliver: " in ctl("route", "a.smith@example.test").stdout
    assert "authenticated" in ctl("auth", "a.smith@example.test",
                                  input="alice-secret\n").stdout
    for auth_bind in ("no", "yes"):
        ctl.reconfigure(ldap_address_attributes="mail",
                        ldap_auth_bind=auth_bind)
        out = ctl("route", "a.smith@example.test", expect=1).stdout
        assert "unknown" in out, out
        out = ctl("auth", "a.smith@example.test", input="alice-secret\n",
                  expect=1).stdout
        assert "refused" in out, (auth_bind, out)
        assert "authenticated" in ctl("auth", "alice@example.test",
                                      input="alice-secret\n").stdout
        assert "deliver: " in ctl("route", "alice@example.test").stdout


def test_bind_password_file_errors_name_the_file(ctl, tmp_path):
    missing = str(tmp_path / "no-such-secret")
    ctl.reconfigure(ldap_bind_password_file=missing)
    result = ctl("route", "alice@example.test", expect=None)
    assert result.returncode not in (0, TEMPFAIL)
    assert missing in result.stderr

    wrong = tmp_path / "wrong.secret"
    wrong.write_text("not-the-password\n")
    ctl.reconfigure(ldap_bind_password_file=str(wrong))
    result = ctl("route", "alice@example.test", expect=TEMPFAIL)
    assert "Invalid credentials" in result.stdout


def test_tls_failure_never_falls_back_to_cleartext(ctl, slapd):
    provision(ctl)
    # This slapd has no certificate: StartTLS must fail the lookup.
    ctl.reconfigure(ldap_start_tls="yes")
    result = ctl("route", "alice@example.test", expect=TEMPFAIL)
    assert "StartTLS" in result.stdout
    # ldaps:// to a plain LDAP port: the TLS handshake fails.
    ctl.reconfigure(ldap_server_uris=slapd.url.replace("ldap:", "ldaps:"))
    ctl("route", "alice@example.test", expect=TEMPFAIL)
    # A CA file that cannot be read is a configuration error naming it.
    missing = "/nonexistent/ca.pem"
    ctl.reconfigure(ldap_tls_ca_file=missing)
    result = ctl("route", "alice@example.test", expect=1)
    assert missing in result.stderr
