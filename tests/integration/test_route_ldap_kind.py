"""How a lookup whose domain is cached tells a mailbox from an alias
(ispmail-ldap(5), "One search per address"), against a real slapd and a
real smtpd: by the attributes it asks for anyway (a mailbox's state,
store and quota; an alias's targets) instead of objectClass, and, for an
entry whose attributes do not tell (a mailbox without them, a relay
recipient, someone else's entry, an entry with both kinds), by asking
again with objectClass.  Every RCPT answer is the one objectClass gives,
except the documented one: an entry outside our classes that carries a
mailbox attribute (extensibleObject) is taken as a mailbox.
"""

import functools

import pytest

import mailutil
import slapd as slapd_fixture
from test_route_ldap_ops import (ctl_ok, ldap_instance, provision,
                                 rcpt_searches, smtp_transaction)


@pytest.fixture
def slapd(tmp_path):
    with slapd_fixture.Slapd(tmp_path) as server:
        yield server


def add_entries(slapd):
    """Entries made by hand, not by ispmailctl, under example.test."""
    domain = "ispmailDomainName=example.test," + slapd.base_dn
    entries = (
        # A mailbox with nothing but its address.
        ("bare", ["ispmailMailbox"], []),
        # A relay recipient in a local domain.
        ("relayed", ["ispmailRelayRecipient"], []),
        # Someone else's entry with our address.
        ("staff", ["inetOrgPerson"], ["cn: staff", "sn: staff"]),
        # An alias with a mailbox attribute too, and a disabled mailbox
        # with alias targets (extensibleObject allows any attribute).
        ("both-alias", ["ispmailAlias", "extensibleObject"],
         ["ispmailAliasTarget: alice@example.test",
          "ispmailState: disabled"]),
        ("both-mailbox", ["ispmailMailbox", "extensibleObject"],
         ["ispmailAliasTarget: alice@example.test",
          "ispmailState: disabled"]),
        # Someone else's entry with a mailbox attribute: the caveat.
        ("stranger", ["inetOrgPerson", "extensibleObject"],
         ["cn: stranger", "sn: stranger", "ispmailState: active"]),
    )
    slapd.ldapmodify("".join(
        "dn: mail=%s@example.test,%s\nchangetype: add\n%s"
        "mail: %s@example.test\n%s\n"
        % (local, domain, "".join("objectClass: %s\n" % oc for oc in ocs),
           local, "".join(line + "\n" for line in extra))
        for local, ocs, extra in entries))


# RCPT address, the reply's code and text, and whether it takes a second
# search (with objectClass).
KIND_RCPTS = (
    ("alice@example.test", 250, "Ok", False),
    ("sales@example.test", 250, "Ok", False),
    ("bob@example.test", 550, "mailbox disabled", False),
    ("full@example.test", 452, "Mailbox full", False),
    ("nobody@example.test", 550, "User unknown", False),
    ("bare@example.test", 250, "Ok", True),
    ("relayed@example.test", 550, "User unknown", True),
    ("staff@example.test", 550, "User unknown", True),
    ("both-alias@example.test", 250, "Ok", True),
    ("both-mailbox@example.test", 550, "mailbox disabled", True),
    ("stranger@example.test", 250, "Ok", False),
)


@pytest.mark.parametrize("cache", ["addresses uncached", "default"])
def test_rcpt_tells_the_kind_by_the_attributes_it_asks_for(
        make_instance, slapd, tmp_path, cache):
    """The domain cached; with addresses uncached the RCPT check asks
    for its own fields (ROUTE_FIELDS_RCPT), with the default cache for
    every field (the answer is kept for later readers): either way no
    objectClass, the alias's targets instead, and a second search only
    for an entry whose attributes do not tell its kind."""
    params = {}
    if cache != "default":
        params = dict(ldap_cache_positive_ttl="0",
                      ldap_cache_negative_ttl="0",
                      ldap_domain_cache_ttl="5m")
    inst = ldap_instance(make_instance, slapd, tmp_path,
                         services=mailutil.smtpd_services(maxproc=1),
                         **params)
    provision(inst)
    ctl_ok(inst, "mailbox", "set", "bob@example.test", "state=disabled")
    ctl_ok(inst, "mailbox", "add", "full@example.test", "quota=2k")
    with open(mailutil.mailbox_dir(inst, "full@example.test")
              + "/maildirsize", "w") as f:
        f.write("2048S\n2100 1\n")
    add_entries(slapd)
    inst.start()
    client = smtp_transaction(inst)
    try:
        rcpt = functools.partial(rcpt_searches, client, slapd)
        # The domain's first RCPT caches it, by objectClass (its entry
        # and carol's come back together).
        [(attrs, entries)] = rcpt("carol@example.test", 250, "Ok")
        assert "objectClass" in attrs and entries == 2, (attrs, entries)
        for address, want, text, again in KIND_RCPTS:
            searches = rcpt(address, want, text)
            first = searches[0][0]
            assert "objectClass" not in first, (address, searches)
            assert "ispmailAliasTarget" in first, (address, searches)
            if cache != "default":
                assert first == ["ispmailAliasTarget", "ispmailQuota",
                                 "ispmailState", "ispmailStorePath"], (
                    address, searches)
            else:
                assert "mail" in first and "ispmailForward" in first, (
                    address, searches)
            if again:
                assert len(searches) == 2, (address, searches)
                assert "objectClass" in searches[1][0], (address, searches)
                assert [n for _, n in searches] == [1, 1], (address,
                                                            searches)
            else:
                assert len(searches) == 1, (address, searches)
    finally:
        client.close()
