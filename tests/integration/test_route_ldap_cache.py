"""The LDAP answer cache when the working set is larger than it.

A real slapd (tests/integration/slapd.py) with one domain and more
addresses than ldap_cache_size; bench/route-bench, which is the routing
lookup of every daemon (route_lookup()) in one process, cycles through
them several times.  slapd logs every search ("SRCH base="), so an
answer served from the cache is a search slapd never sees.
"""

import os
import re
import subprocess
import uuid

import pytest

import harness
import slapd as slapd_fixture

ROUTE_BENCH = os.path.join(harness.TOP_BUILDDIR, "bench", "route-bench")
DOMAIN = "example.test"


@pytest.fixture
def slapd(tmp_path):
    with slapd_fixture.Slapd(tmp_path) as server:
        yield server


def directory(make_instance, slapd, tmp_path, mailboxes, aliases,
              cache_size):
    """An instance whose directory is slapd with DOMAIN, the mailboxes
    m0..m{mailboxes-1} and the aliases a0..a{aliases-1}@DOMAIN (to a remote
    address), caching at most cache_size answers, for longer than the test
    runs."""
    inst = make_instance(params=slapd_fixture.ispmail_params(
        slapd, tmp_path, ldap_cache_size=str(cache_size),
        ldap_cache_positive_ttl="10m", ldap_cache_negative_ttl="10m"))
    inst.write_main_conf()
    result = inst.ctl("domain", "add", DOMAIN)
    assert result.returncode == 0, result.stderr
    parent = "ispmailDomainName=%s,%s" % (DOMAIN, slapd.base_dn)
    records = []
    for i in range(mailboxes):
        records.append(
            "dn: mail=m%d@%s,%s\nchangetype: add\n"
            "objectClass: ispmailMailbox\nobjectClass: inetLocalMailRecipient\n"
            "mail: m%d@%s\nispmailStorePath: %s/m%d\nispmailState: active\n"
            % (i, DOMAIN, parent, i, DOMAIN, inst.store_dir, i))
    for i in range(aliases):
        records.append(
            "dn: mail=a%d@%s,%s\nchangetype: add\nobjectClass: ispmailAlias\n"
            "mail: a%d@%s\nispmailAliasTarget: someone@remote.test\n"
            % (i, DOMAIN, parent, i, DOMAIN))
    slapd.ldapmodify("\n".join(records))
    return inst


def searches_during(slapd, action):
    """How many searches slapd logs while action() runs, and its result.
    A last search of our own marks the end of the log that counts."""
    before = slapd.search_count()
    result = action()
    marker = "end-%s@%s" % (uuid.uuid4().hex, DOMAIN)
    slapd.ldapsearch("(mail=%s)" % marker, "mail")
    harness.wait_for(lambda: marker in slapd.log(), 10,
                     what="slapd to log the marker search")
    return slapd.search_count() - before - 1, result


def cycle(inst, tmp_path, keys, passes):
    """route-bench looking keys up passes times in one process: found and
    notfound counts."""
    keyfile = tmp_path / "keys"
    keyfile.write_text("".join(k + "\n" for k in keys))
    result = subprocess.run(
        [ROUTE_BENCH, "-c", inst.config_dir, "-k", str(keyfile),
         "-n", str(passes * len(keys))],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    fields = dict(re.findall(r"(\w+)=(\S+)", result.stdout))
    return int(fields["found"]), int(fields["notfound"])


def test_a_cycle_longer_than_the_cache_mostly_hits(make_instance, slapd,
                                                   tmp_path):
    """120 mailboxes through a cache of 100, five times over: with
    eviction in insertion order (FIFO, LRU, plain SIEVE) each answer goes
    just before it is needed again and every lookup searches (600); the
    cache keeps most of them from the third pass on."""
    addresses, passes = 120, 5
    inst = directory(make_instance, slapd, tmp_path, addresses, 0, 100)
    keys = ["m%d@%s" % (i, DOMAIN) for i in range(addresses)]

    searches, (found, notfound) = searches_during(
        slapd, lambda: cycle(inst, tmp_path, keys, passes))

    assert (found, notfound) == (passes * addresses, 0)
    # The first pass searches for every address (the domain comes with
    # the first); at most half of the later lookups may.
    later = searches - addresses
    assert later <= (passes - 1) * addresses // 2, (
        "%d of the %d lookups after the first pass searched"
        % (later, (passes - 1) * addresses))


def test_an_address_that_is_no_mailbox_costs_one_entry(make_instance, slapd,
                                                       tmp_path):
    """A mailbox, an alias and an unknown address cost one cache entry
    each, the domain one: 40 mailboxes, 10 aliases, 10 unknown addresses
    and the domain fit in 61 entries, and after the first pass nothing
    searches.  (The negative mailbox answer used to be an entry of its
    own: 81 entries, and a cycle through them missed.)"""
    inst = directory(make_instance, slapd, tmp_path, 40, 10, 61)
    keys = (["m%d@%s" % (i, DOMAIN) for i in range(40)]
            + ["a%d@%s" % (i, DOMAIN) for i in range(10)]
            + ["nobody%d@%s" % (i, DOMAIN) for i in range(10)])

    searches, (found, notfound) = searches_during(
        slapd, lambda: cycle(inst, tmp_path, keys, 3))

    assert (found, notfound) == (3 * 50, 3 * 10)
    assert searches == len(keys), "later passes searched"


def test_one_entry_answers_an_alias_and_no_mailbox(make_instance, slapd,
                                                  tmp_path):
    """The joined entry answers for its own address only, as what it is:
    an alias, a mailbox and an unknown address looked up twice in one
    process resolve the same both times, the second time from the cache
    (as many searches as looking each up once)."""
    inst = directory(make_instance, slapd, tmp_path, 1, 1, 10)
    keys = ["a0@%s" % DOMAIN, "m0@%s" % DOMAIN, "nobody@%s" % DOMAIN]

    once, _ = searches_during(slapd, lambda: inst.ctl("route", *keys))
    twice, out = searches_during(
        slapd, lambda: inst.ctl("route", *(keys * 2)))

    text = out.stdout
    assert text.count("deliver: someone@remote.test") == 2, text
    assert len(re.findall(r"deliver: m0@example\.test mailbox", text)) == 2, \
        text
    assert text.count("unknown address nobody@example.test") == 2, (
        text + out.stderr)
    assert twice == once, "the second lookups searched"
