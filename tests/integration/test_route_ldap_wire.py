"""Answers read in blocks (liblber's read-ahead layer on every directory
connection, route_ldap_conn.c) over each transport a site uses: ldap://,
StartTLS and ldaps://, against a real slapd with TLS and a real smtpd
whose pooled connection answers RCPT after RCPT: one entry and its
result, no entry, an alias too large for the decoded-entry memo (its
kind told by its attribute names), and a list of several hundred
entries, far past the read-ahead buffer, through ispmailctl.
"""

import functools

import pytest

import mailutil
import slapd as slapd_fixture
import tlsutil
from test_route_ldap_ops import (ctl_ok, ldap_instance, provision,
                                 rcpt_searches, smtp_transaction)

# More targets than the memo's values (ROUTE_LDAP_ENTRY_VALUES_MAX, 256),
# and more mailboxes than fit one 16 KiB read.
BIG_TARGETS = 300
MORE_MAILBOXES = 400


def add_bulk(slapd):
    domain = "ispmailDomainName=example.test," + slapd.base_dn
    ldif = ["dn: mail=big@example.test,%s\nchangetype: add\n"
            "objectClass: ispmailAlias\nmail: big@example.test\n%s\n"
            % (domain, "".join("ispmailAliasTarget: t%d@remote.test\n" % i
                               for i in range(BIG_TARGETS)))]
    ldif += ["dn: mail=m%d@example.test,%s\nchangetype: add\n"
             "objectClass: ispmailMailbox\nmail: m%d@example.test\n"
             "ispmailState: active\n\n" % (i, domain, i)
             for i in range(MORE_MAILBOXES)]
    slapd.ldapmodify("".join(ldif))


@pytest.mark.parametrize("transport", ["ldap", "starttls", "ldaps"])
def test_answers_over_each_transport(make_instance, tmp_path, transport):
    certs = tlsutil.make_certs(hostname="localhost")
    with slapd_fixture.Slapd(tmp_path, tls=certs) as slapd:
        params = dict(ldap_cache_positive_ttl="0",
                      ldap_cache_negative_ttl="0",
                      ldap_domain_cache_ttl="5m",
                      ldap_tls_ca_file=certs["ca"])
        if transport == "starttls":
            params["ldap_start_tls"] = "yes"
        elif transport == "ldaps":
            params["ldap_server_uris"] = slapd.ldaps_url
        inst = ldap_instance(make_instance, slapd, tmp_path,
                             services=mailutil.smtpd_services(maxproc=1),
                             **params)
        provision(inst)
        ctl_ok(inst, "mailbox", "set", "bob@example.test", "state=disabled")
        add_bulk(slapd)
        accepts = slapd.log().count(" ACCEPT from ")
        inst.start()
        client = smtp_transaction(inst)
        try:
            rcpt = functools.partial(rcpt_searches, client, slapd)
            rcpt("carol@example.test", 250, "Ok")     # caches the domain
            for _ in range(3):
                for address, want, text, found in (
                        ("alice@example.test", 250, "Ok", 1),
                        ("nobody@example.test", 550, "User unknown", 0),
                        ("sales@example.test", 250, "Ok", 1),
                        ("bob@example.test", 550, "mailbox disabled", 1),
                        ("big@example.test", 250, "Ok", 1),
                        ("m399@example.test", 250, "Ok", 1)):
                    assert [n for _, n in rcpt(address, want, text)] == [
                        found], address
        finally:
            client.close()
        # One connection served every RCPT, over the transport asked for.
        log = slapd.log()
        assert log.count(" ACCEPT from ") == accepts + 1, log[-3000:]
        if transport == "starttls":
            assert "EXT oid=1.3.6.1.4.1.1466.20037" in log, log[-2000:]
        if transport == "ldaps":
            assert "(IP=127.0.0.1:%d)" % slapd.ldaps_port in log
        listed = ctl_ok(inst, "mailbox", "list", "example.test").stdout
        names = listed.split()
        assert len(names) == 4 + MORE_MAILBOXES, listed[:500]
        assert "m0@example.test" in names and "dave@example.test" in names
        assert "big@example.test" in ctl_ok(
            inst, "alias", "list", "example.test").stdout.split()
        route = ctl_ok(inst, "route", "big@example.test").stdout
        assert route.count("deliver: t") == BIG_TARGETS, route[:500]
