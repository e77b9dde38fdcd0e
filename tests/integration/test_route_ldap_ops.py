"""The LDAP directory as an operator runs it (ispmail-ldap(5)), against a
real slapd (tests/integration/slapd.py) and a real smtpd:

- a hung slapd (SIGSTOP) costs each RCPT at most one ldap_search_timeout;
- the daemons' account may only read, ispmailctl's provisioning account
  writes, and ispmailctl's writes use it;
- provisioning against an unreachable directory exits 75 (EX_TEMPFAIL)
  naming the URI;
- a TLS certificate that does not verify says "certificate" and names
  ldap_tls_ca_file, in ispmailctl and in the daemon log;
- an uncached lookup is one search, and the RCPT check's asks for what
  RCPT decides on only; ldap_address_attributes names its filter terms.
"""

import functools
import os
import re
import smtplib
import signal
import socket
import subprocess
import threading
import time

import pytest

import mailutil
import slapd as slapd_fixture
import tlsutil

TEMPFAIL = 75   # CTL_EXIT_TEMPFAIL (EX_TEMPFAIL)
LDAP_INSUFFICIENT_ACCESS = 50


def ctl_ok(inst, *args, input=None, expect=0):
    result = inst.ctl(*args, input=input, timeout=30)
    assert result.returncode == expect, (
        "ispmailctl %s: exit %d, expected %d\nstdout: %s\nstderr: %s"
        % (" ".join(args), result.returncode, expect, result.stdout,
           result.stderr))
    return result


def provision(inst):
    ctl_ok(inst, "domain", "add", "example.test")
    for user in ("alice", "bob", "carol", "dave"):
        ctl_ok(inst, "mailbox", "add", "%s@example.test" % user,
               "--no-store")
    ctl_ok(inst, "alias", "add", "sales@example.test", "alice@example.test")


def ldap_instance(make_instance, server, tmp_path, services=(), **params):
    inst = make_instance(services=list(services),
                         params=slapd_fixture.ispmail_params(
                             server, tmp_path, **params))
    inst.params.setdefault("myhostname", "mx.example.test")
    inst.write_main_conf()
    return inst


def smtp_transaction(inst):
    """An SMTP client to inst's MX port, after EHLO and MAIL."""
    client = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=30)
    client.ehlo("client.example.net")
    code, text = client.mail("sender@example.net")
    assert code == 250, (code, text)
    return client


@pytest.fixture
def slapd(tmp_path):
    with slapd_fixture.Slapd(tmp_path) as server:
        yield server


# ---- one search per lookup ---------------------------------------------------

def search_filters(server):
    """The filters of the searches slapd has logged so far, in order."""
    return re.findall(r" SRCH base=.* filter=\"(.*)\"", server.log())


def test_uncached_lookup_is_one_search(make_instance, slapd, tmp_path):
    inst = ldap_instance(make_instance, slapd, tmp_path,
                         services=mailutil.smtpd_services(maxproc=1),
                         ldap_cache_positive_ttl="0",
                         ldap_cache_negative_ttl="0")
    provision(inst)
    inst.start()
    client = smtp_transaction(inst)
    try:

        def searches(address, want):
            time.sleep(0.3)
            before = len(search_filters(slapd))
            code, text = client.rcpt(address)
            assert code == want, (address, code, text)
            # slapd writes its log asynchronously to the reply.
            time.sleep(0.3)
            return search_filters(slapd)[before:]

        # Each RCPT resolves the address once: the domain, the mailbox
        # and the alias are one search.
        for address, want in (("alice@example.test", 250),
                              ("nobody@example.test", 550),
                              ("bob@example.test", 250)):
            filters = searches(address, want)
            assert len(filters) == 1, "RCPT %s took %d searches: %s" % (
                address, len(filters), filters)
    finally:
        client.close()


def addresses_uncached(make_instance, slapd, tmp_path, **params):
    """A provisioned smtpd instance whose domains are cached and whose
    addresses are not (ldap_domain_cache_ttl, both address TTLs 0)."""
    inst = ldap_instance(make_instance, slapd, tmp_path,
                         services=mailutil.smtpd_services(maxproc=1),
                         ldap_cache_positive_ttl="0",
                         ldap_cache_negative_ttl="0",
                         ldap_domain_cache_ttl="5m", **params)
    provision(inst)
    return inst


def test_domain_cached_apart_from_addresses(make_instance, slapd, tmp_path):
    """ldap_domain_cache_ttl: with both address TTLs 0, the first RCPT
    of a domain asks for the domain and the address in one search; the
    next ones ask for the address alone (the domain from the cache),
    and every address is still asked for afresh."""
    inst = addresses_uncached(make_instance, slapd, tmp_path)
    inst.start()
    client = smtp_transaction(inst)
    try:
        seen = []
        for address, want in (("alice@example.test", 250),
                              ("nobody@example.test", 550),
                              ("bob@example.test", 250),
                              ("alice@example.test", 250)):
            time.sleep(0.3)
            before = len(search_filters(slapd))
            code, text = client.rcpt(address)
            assert code == want, (address, code, text)
            time.sleep(0.3)
            filters = search_filters(slapd)[before:]
            assert len(filters) == 1, (address, filters)
            seen.append(filters[0])
        assert "ispmailDomainName=example.test" in seen[0], seen
        for f in seen[1:]:
            assert "ispmailDomainName" not in f, seen
            assert "mail=" in f, seen
        # The repeated address was asked for again: addresses uncached.
        assert "alice@example.test" in seen[3], seen
    finally:
        client.close()


def search_results(server, before):
    """[(attributes asked for, entries returned)] of the searches slapd
    logged after the first `before` ones, once each has its result line
    (slapd logs a search when it reads it, before it answers, so every
    search of an answered RCPT is in the log already)."""
    deadline = time.monotonic() + 10
    while True:
        log = server.log()
        ops = re.findall(r"(conn=\d+ op=\d+) SRCH base=", log)[before:]
        attrs = dict(re.findall(r"(conn=\d+ op=\d+) SRCH attr=(.*)", log))
        entries = dict(re.findall(
            r"(conn=\d+ op=\d+) SEARCH RESULT .*nentries=(\d+)", log))
        if all(op in entries for op in ops):
            return [(sorted(attrs.get(op, "").split()), int(entries[op]))
                    for op in ops]
        assert time.monotonic() < deadline, (ops, log[-2000:])
        time.sleep(0.05)


def test_rcpt_check_asks_for_what_it_decides_on(make_instance, slapd,
                                                tmp_path):
    """Uncached, the RCPT check's search asks slapd for the state and the
    quota (ROUTE_FIELDS_RCPT), an alias's targets (which with those tell
    a mailbox from an alias without objectClass) and no other mailbox
    attribute (no mail, forwards, filter scores, alternate addresses,
    ...); the domain's attributes and mail only while the domain is not
    cached.  What slapd returns is that one entry with those attributes:
    the RCPT answers still follow the state and the quota."""
    inst = addresses_uncached(make_instance, slapd, tmp_path)
    ctl_ok(inst, "mailbox", "set", "bob@example.test", "state=disabled",
           "forward=carol@example.test", "alt=robert@example.test",
           "filter=aggressive", "class=bulk", "dmarc=junk")
    inst.start()
    client = smtp_transaction(inst)
    rcpt_attrs = ["ispmailAliasTarget", "ispmailQuota", "ispmailState",
                  "ispmailStorePath"]
    try:
        def rcpt(address, want):
            before = len(search_filters(slapd))
            code, text = client.rcpt(address)
            assert code == want, (address, code, text)
            return search_results(slapd, before)

        # The first RCPT of the domain: the domain's entry and alice's.
        [(attrs, entries)] = rcpt("alice@example.test", 250)
        assert "ispmailDomainName" in attrs, attrs
        assert {"ispmailQuota", "ispmailState", "ispmailStorePath",
                "objectClass", "mail"} <= set(attrs), attrs
        assert "ispmailForward" not in attrs, attrs
        assert "ispmailAliasTarget" not in attrs, attrs
        assert entries == 2
        # Then the address alone, for exactly what RCPT decides on.
        for address, want, found in (("alice@example.test", 250, 1),
                                     ("bob@example.test", 550, 1),
                                     ("robert@example.test", 550, 1),
                                     ("sales@example.test", 250, 1),
                                     ("nobody@example.test", 550, 0)):
            [(attrs, entries)] = rcpt(address, want)
            assert attrs == rcpt_attrs, (address, attrs)
            assert entries == found, (address, entries)
    finally:
        client.close()


@pytest.mark.parametrize("address_attributes", ["mail mailLocalAddress",
                                                "mail"])
def test_address_attributes_name_the_filter_terms(make_instance, slapd,
                                                  tmp_path,
                                                  address_attributes):
    """ldap_address_attributes: by default an address is searched in
    mail and mailLocalAddress, and an alternate address is a recipient;
    with mail alone (a directory without alternate addresses) a lookup
    whose domain is cached is the one-term filter (mail=A), postmap's
    question, and the alternate address is unknown."""
    alternate = "mailLocalAddress" in address_attributes
    inst = ldap_instance(make_instance, slapd, tmp_path,
                         services=mailutil.smtpd_services(maxproc=1),
                         ldap_cache_positive_ttl="0",
                         ldap_cache_negative_ttl="0",
                         ldap_domain_cache_ttl="5m",
                         ldap_address_attributes=address_attributes)
    provision(inst)
    ctl_ok(inst, "mailbox", "set", "bob@example.test",
           "alt=robert@example.test")
    inst.start()
    client = smtp_transaction(inst)
    try:
        def rcpt(address, want):
            before = len(search_filters(slapd))
            code, text = client.rcpt(address)
            assert code == want, (address, address_attributes, code, text)
            # Every search of the answered RCPT has its result logged.
            return [f for f, _ in zip(search_filters(slapd)[before:],
                                      search_results(slapd, before))]

        # The first RCPT of the domain asks for it too, and caches it.
        first = "(|(ispmailDomainName=example.test)(mail=alice@example.test)"
        if alternate:
            first += "(mailLocalAddress=alice@example.test)"
        assert rcpt("alice@example.test", 250) == [first + ")"]
        for address, want in (("alice@example.test", 250),
                              ("sales@example.test", 250),
                              ("nobody@example.test", 550),
                              ("robert@example.test",
                               250 if alternate else 550)):
            filters = rcpt(address, want)
            if alternate:
                assert filters == ["(|(mail=%s)(mailLocalAddress=%s))"
                                   % (address, address)], filters
            else:
                assert filters == ["(mail=%s)" % address], filters
    finally:
        client.close()


def rcpt_searches(client, server, address, want, text):
    """RCPT TO address, answered want with text in the reply; the
    searches it made, as search_results gives them."""
    before = len(search_filters(server))
    code, reply = client.rcpt(address)
    assert code == want and text in reply.decode(), (address, code, reply)
    return search_results(server, before)


# With add_people: RCPT address, the reply's code and text, and how many
# entries have the address (ours and the people's).
PEOPLE_RCPTS = (
    ("staff@example.test", 550, "User unknown", 1),
    ("carol@example.test", 250, "Ok", 1),
    ("alice@example.test", 250, "Ok", 2),
    ("bob@example.test", 550, "mailbox disabled", 2),
    ("sales@example.test", 250, "Ok", 2),
    ("nobody@example.test", 550, "User unknown", 0))


def add_people(inst, slapd):
    """bob's mailbox disabled, and entries that are not ours
    (inetOrgPerson, outside the domains) with a mail attribute: staff@
    alone, and alice@ (a mailbox), bob@ and sales@ (an alias)."""
    ctl_ok(inst, "mailbox", "set", "bob@example.test", "state=disabled")
    slapd.ldapmodify("".join(
        "dn: cn=%s,%s\nchangetype: add\nobjectClass: inetOrgPerson\n"
        "cn: %s\nsn: %s\nmail: %s@example.test\n\n"
        % (cn, slapd.base_dn, cn, cn, local)
        for cn, local in (("staff", "staff"), ("alice-person", "alice"),
                          ("bob-person", "bob"), ("sales-person", "sales"))))


def test_rcpt_tells_entries_apart_by_their_class(make_instance, slapd,
                                                 tmp_path):
    """Addresses uncached, the domain cached: an entry that is not one
    of ours (an inetOrgPerson elsewhere in the directory with a mail
    attribute) answers no RCPT, alone or beside a mailbox or an alias
    with the same address, and the mailbox's own state still decides.
    A result's only entry is decoded once for its class and its record;
    a result of several, asked without mail (ROUTE_FIELDS_RCPT), is
    asked again with mail, which tells an address's own entry from one
    that has it as an alternate and with objectClass, and read entry by
    entry: both paths are taken here, as the searches and entry counts
    slapd logs show.  Someone else's entry alone has none of the
    attributes that tell a mailbox or an alias without objectClass: it
    is asked again with objectClass (test_route_ldap_kind.py)."""
    inst = addresses_uncached(make_instance, slapd, tmp_path)
    add_people(inst, slapd)
    inst.start()
    client = smtp_transaction(inst)
    try:
        rcpt = functools.partial(rcpt_searches, client, slapd)

        # The domain's first RCPT caches it (carol's entry and the
        # domain's come back together).
        [(_, entries)] = rcpt("carol@example.test", 250, "Ok")
        assert entries == 2
        for address, want, text, found in PEOPLE_RCPTS:
            searches = rcpt(address, want, text)
            again = found > 1 or address.startswith("staff@")
            assert [n for _, n in searches] == (
                [found, found] if again else [found]), (address, searches)
            assert "mail" not in searches[0][0], (address, searches)
            assert "objectClass" not in searches[0][0], (address, searches)
            if again:
                assert "objectClass" in searches[1][0], (address, searches)
            if found > 1:
                assert "mail" in searches[1][0], (address, searches)
    finally:
        client.close()


def test_uncached_rcpt_tells_entries_apart_by_their_class(
        make_instance, slapd, tmp_path):
    """Every TTL 0: each RCPT is one search that brings the domain's
    entry back with the address's, and an inetOrgPerson with the same
    mail beside them.  The classes of such a result's entries are read
    once for every class route_ldap_choose asks about (the domain's, a
    mailbox's, an alias's): the answers are those of the cached-domain
    lookup, and an address only someone else's entry has is unknown."""
    inst = ldap_instance(make_instance, slapd, tmp_path,
                         services=mailutil.smtpd_services(maxproc=1),
                         ldap_cache_positive_ttl="0",
                         ldap_cache_negative_ttl="0")
    provision(inst)
    add_people(inst, slapd)
    inst.start()
    client = smtp_transaction(inst)
    try:
        rcpt = functools.partial(rcpt_searches, client, slapd)
        # Beside the address's entries, the domain's.
        for address, want, text, found in PEOPLE_RCPTS + PEOPLE_RCPTS[:1]:
            searches = rcpt(address, want, text)
            assert [n for _, n in searches] == [found + 1], (address,
                                                             searches)
            assert "ispmailDomainName" in searches[0][0], (address,
                                                           searches)
    finally:
        client.close()


def test_rcpt_prefers_the_address_own_mailbox_to_an_alternate(
        make_instance, slapd, tmp_path):
    """A directory where one mailbox's alternate address is another's
    address (the operator's mistake): RCPT, which does not ask for mail,
    finds two mailboxes, asks again with mail and takes the one whose
    address it is, as a lookup asking for mail does: alice (active) is
    accepted although carol, who has alice's address as an alternate,
    is disabled; carol's own address is refused as disabled."""
    inst = addresses_uncached(make_instance, slapd, tmp_path)
    ctl_ok(inst, "mailbox", "set", "carol@example.test", "state=disabled")
    carol = "mail=carol@example.test,ispmailDomainName=example.test," \
        + slapd.base_dn
    slapd.ldapmodify("dn: %s\nchangetype: modify\nadd: mailLocalAddress\n"
                     "mailLocalAddress: alice@example.test\n" % carol)
    inst.start()
    client = smtp_transaction(inst)
    try:
        rcpt = functools.partial(rcpt_searches, client, slapd)

        rcpt("dave@example.test", 250, "Ok")    # caches the domain
        searches = rcpt("alice@example.test", 250, "Ok")
        assert [n for _, n in searches] == [2, 2], searches
        assert "mail" not in searches[0][0] and "mail" in searches[1][0], (
            searches)
        assert [n for _, n in rcpt("carol@example.test", 550,
                                   "mailbox disabled")] == [1]
        # route_lookup (every field) chooses the same.
        out = ctl_ok(inst, "route", "alice@example.test").stdout
        assert "alice@example.test" in out and "carol" not in out, out
    finally:
        client.close()


# ---- a hung directory: one timeout per RCPT ----------------------------------

def test_hung_directory_costs_one_search_timeout_per_rcpt(
        make_instance, slapd, tmp_path):
    timeout = 2
    inst = ldap_instance(make_instance, slapd, tmp_path,
                         services=mailutil.smtpd_services(maxproc=1),
                         ldap_search_timeout="%ds" % timeout,
                         ldap_connect_timeout="%ds" % timeout,
                         ldap_cache_positive_ttl="0",
                         ldap_cache_negative_ttl="0")
    provision(inst)
    inst.start()
    client = smtp_transaction(inst)
    try:
        # A pooled, bound connection first: the hung search is retried.
        assert client.rcpt("alice@example.test")[0] == 250
        slapd.pause()
        try:
            for address in ("bob@example.test", "carol@example.test",
                            "dave@example.test"):
                started = time.monotonic()
                code, text = client.rcpt(address)
                elapsed = time.monotonic() - started
                assert 400 <= code < 500, (address, code, text)
                # Before: a search timeout, then a retry whose bind timed
                # out too (2 x ldap_search_timeout).
                assert elapsed < 1.5 * timeout, (
                    "RCPT %s took %.2fs with ldap_search_timeout %ds"
                    % (address, elapsed, timeout))
                assert elapsed > 0.8 * timeout, (
                    "RCPT %s failed after %.2fs, before the timeout"
                    % (address, elapsed))
        finally:
            slapd.resume()
        assert client.rcpt("bob@example.test")[0] == 250
    finally:
        client.close()


# ---- a silent first server: the retry goes to the next URI -------------------

def two_directories(make_instance, tmp_path, first_url, second, **params):
    """An smtpd instance listing first_url then second, both holding the
    provisioned data when first_url is a slapd (provisioned by caller)."""
    inst = ldap_instance(make_instance, second, tmp_path,
                         services=mailutil.smtpd_services(maxproc=1),
                         ldap_cache_positive_ttl="0",
                         ldap_cache_negative_ttl="0", **params)
    provision(inst)
    inst.params["ldap_server_uris"] = "%s %s" % (first_url, second.url)
    inst.write_main_conf()
    return inst


def timed_rcpt(client, address):
    started = time.monotonic()
    code, text = client.rcpt(address)
    return code, text, time.monotonic() - started


def test_stopped_first_server_behind_a_pooled_connection_fails_over(
        make_instance, tmp_path):
    """The consumer listed first goes silent (SIGSTOP: its port still
    accepts) while the daemon holds a pooled connection to it: the RCPT
    is answered by the second server within one ldap_search_timeout,
    not refused temporarily."""
    timeout = 2
    with slapd_fixture.Slapd(tmp_path / "first") as first, \
            slapd_fixture.Slapd(tmp_path / "second") as second:
        inst = two_directories(make_instance, tmp_path, first.url, second,
                               ldap_search_timeout="%ds" % timeout,
                               ldap_connect_timeout="1s")
        # The same data on the first server.
        inst.params["ldap_server_uris"] = first.url
        inst.write_main_conf()
        provision(inst)
        inst.params["ldap_server_uris"] = "%s %s" % (first.url, second.url)
        inst.write_main_conf()
        inst.start()
        client = smtp_transaction(inst)
        try:
            before = second.search_count()
            code, text, _ = timed_rcpt(client, "alice@example.test")
            assert code == 250, (code, text)
            # Answered by the first server, over a pooled connection.
            assert second.search_count() == before
            first.pause()
            try:
                code, text, elapsed = timed_rcpt(client, "bob@example.test")
                assert code == 250, (code, text, elapsed)
                assert elapsed < 1.25 * timeout, (
                    "RCPT took %.2fs with ldap_search_timeout %ds"
                    % (elapsed, timeout))
                # slapd writes its log line on its own thread: allow it
                # a moment to reach the file.
                inst.wait_for(lambda: second.search_count() > before,
                              timeout=5, what="the second server's search")
                # The silent server is skipped now: no wait at all.
                code, text, elapsed = timed_rcpt(client,
                                                 "carol@example.test")
                assert code == 250, (code, text)
                assert elapsed < 0.5 * timeout, elapsed
                inst.wait_for_log(r"ldap: %s.*skipping this server"
                                  % re.escape(first.url))
            finally:
                first.resume()
        finally:
            client.close()


def test_first_server_that_accepts_and_never_answers_fails_over(
        make_instance, slapd, tmp_path):
    """A listening socket nobody reads (the kernel completes the TCP
    handshake, no LDAP answer ever comes) listed first: the bind to it
    gets half the deadline and the second server answers."""
    timeout = 2
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        silent_url = "ldap://127.0.0.1:%d/" % silent.getsockname()[1]
        inst = two_directories(make_instance, tmp_path, silent_url, slapd,
                               ldap_search_timeout="%ds" % timeout,
                               ldap_connect_timeout="%ds" % timeout)
        inst.start()
        client = smtp_transaction(inst)
        try:
            code, text, elapsed = timed_rcpt(client, "alice@example.test")
            assert code == 250, (code, text, elapsed)
            assert 0.4 * timeout < elapsed < 1.25 * timeout, elapsed
            code, text, elapsed = timed_rcpt(client, "bob@example.test")
            assert code == 250, (code, text)
            assert elapsed < 0.5 * timeout, elapsed
        finally:
            client.close()
        inst.wait_for_log(r"ldap: %s.*skipping this server"
                          % re.escape(silent_url))
    finally:
        silent.close()


def test_stress_signals_do_not_fail_a_slow_answer(make_instance, slapd,
                                                  tmp_path):
    """The master's stress signals (SIGUSR1/SIGUSR2) reach smtpd while
    a search waits for a slow but healthy server: the answer is still
    taken, the server is not skipped as unreachable (libldap's poll()
    is restarted, not failed with "Can't contact LDAP server")."""
    inst = addresses_uncached(make_instance, slapd, tmp_path,
                              ldap_search_timeout="5s")
    inst.start()
    client = smtp_transaction(inst)
    try:
        code, text, _ = timed_rcpt(client, "alice@example.test")
        assert code == 250, (code, text)
        [pid] = inst.service_pids("smtp")
        slapd.pause()
        stop = threading.Event()

        def resume_later():
            # Signals while the search waits, then the answer.
            for _ in range(10):
                os.kill(pid, signal.SIGUSR2)
                stop.wait(0.1)
            slapd.resume()

        t = threading.Thread(target=resume_later)
        t.start()
        try:
            code, text, elapsed = timed_rcpt(client, "bob@example.test")
        finally:
            t.join()
        assert code == 250, (code, text, elapsed)
        assert elapsed >= 0.9, elapsed
        assert "skipping this server" not in inst.log(), inst.log()
    finally:
        client.close()


# ---- two accounts: the daemons read, ispmailctl writes -----------------------

def ldapmodify_as(server, dn, password, ldif):
    return subprocess.run(
        ["ldapmodify", "-x", "-H", server.url, "-D", dn, "-w", password],
        input=ldif, capture_output=True, text=True, timeout=30)


def test_read_account_cannot_write_and_provisioning_can(
        make_instance, slapd, tmp_path):
    inst = ldap_instance(make_instance, slapd, tmp_path)
    provision(inst)
    entry = "mail=alice@example.test,ispmailDomainName=example.test," \
        + slapd.base_dn
    # ispmailctl wrote as the provisioning account.
    assert ("creatorsName: " + slapd.provision_dn) in slapd.ldapsearch(
        "(mail=alice@example.test)", "creatorsName")
    ctl_ok(inst, "mailbox", "set", "alice@example.test", "quota=2048")
    assert ("modifiersName: " + slapd.provision_dn) in slapd.ldapsearch(
        "(mail=alice@example.test)", "modifiersName")

    change = ("dn: %s\nchangetype: modify\nreplace: ispmailQuota\n"
              "ispmailQuota: 1\n" % entry)
    # The daemons' account reads but may not write ...
    result = ldapmodify_as(slapd, slapd.service_dn,
                           slapd_fixture.SERVICE_PW, change)
    assert result.returncode == LDAP_INSUFFICIENT_ACCESS, result
    assert "ispmailQuota: 2048" in slapd.ldapsearch(
        "(mail=alice@example.test)", "ispmailQuota")
    # ... the provisioning account may.
    result = ldapmodify_as(slapd, slapd.provision_dn,
                           slapd_fixture.PROVISION_PW, change)
    assert result.returncode == 0, result

    # Without the provisioning account ispmailctl writes as the daemons'
    # account, which slapd refuses: a permanent error, not 75.
    inst.write_main_conf({"ldap_provision_bind_dn": "",
                          "ldap_provision_bind_password_file": ""})
    result = ctl_ok(inst, "mailbox", "add", "erin@example.test",
                    "--no-store", expect=1)
    assert "Insufficient access" in result.stderr, result.stderr

    # Reading never needs the provisioning password file: a daemon need
    # not be able to read it.
    missing = str(tmp_path / "no-such-provision.secret")
    inst.write_main_conf({
        "ldap_provision_bind_dn": slapd.provision_dn,
        "ldap_provision_bind_password_file": missing})
    out = ctl_ok(inst, "route", "alice@example.test").stdout
    assert "alice@example.test" in out
    result = ctl_ok(inst, "mailbox", "add", "erin@example.test",
                    "--no-store", expect=1)
    assert missing in result.stderr
    assert "ldap_provision_bind_password_file" in result.stderr


# ---- provisioning against an unreachable directory exits 75 ------------------

def test_unreachable_directory_makes_provisioning_exit_75(
        make_instance, slapd, tmp_path):
    inst = ldap_instance(make_instance, slapd, tmp_path,
                         ldap_search_timeout="1s", ldap_connect_timeout="1s")
    provision(inst)
    slapd.stop()
    for args in (("domain", "add", "example.net"),
                 ("mailbox", "add", "erin@example.test", "--no-store"),
                 ("mailbox", "del", "bob@example.test"),
                 ("alias", "add", "info@example.test", "bob@example.test"),
                 ("domain", "list")):
        result = ctl_ok(inst, *args, expect=TEMPFAIL)
        assert slapd.url in result.stderr, result.stderr
        assert "unreachable" in result.stderr
    # A hung provider: 75 too, within the timeouts.
    slapd.start()
    slapd.pause()
    try:
        started = time.monotonic()
        result = ctl_ok(inst, "mailbox", "add", "erin@example.test",
                        "--no-store", expect=TEMPFAIL)
        elapsed = time.monotonic() - started
    finally:
        slapd.resume()
    assert slapd.url in result.stderr, result.stderr
    assert elapsed < 5, "took %.1fs with 1s timeouts" % elapsed
    ctl_ok(inst, "mailbox", "add", "erin@example.test", "--no-store")


# ---- TLS: a certificate that does not verify ---------------------------------

def test_tls_certificate_failure_names_ldap_tls_ca_file(
        make_instance, tmp_path):
    ours = tlsutil.make_certs(hostname="localhost")
    other = tlsutil.make_certs(hostname="other-ca.test")
    assert ours["ca"] != other["ca"]
    with slapd_fixture.Slapd(tmp_path, tls=ours) as server:
        inst = ldap_instance(make_instance, server, tmp_path,
                             services=mailutil.smtpd_services(maxproc=1),
                             ldap_start_tls="yes",
                             ldap_tls_ca_file=ours["ca"],
                             ldap_cache_positive_ttl="0",
                             ldap_cache_negative_ttl="0")
        # With the right CA, StartTLS works: the setup is sound.
        provision(inst)
        assert "alice@example.test" in ctl_ok(
            inst, "route", "alice@example.test").stdout

        inst.params["ldap_tls_ca_file"] = other["ca"]
        inst.write_main_conf()
        result = ctl_ok(inst, "route", "alice@example.test",
                        expect=TEMPFAIL)
        assert "certificate" in result.stdout, result.stdout
        assert "ldap_tls_ca_file " + other["ca"] in result.stdout
        result = ctl_ok(inst, "mailbox", "add", "erin@example.test",
                        "--no-store", expect=TEMPFAIL)
        assert "certificate" in result.stderr, result.stderr
        assert "ldap_tls_ca_file" in result.stderr

        # The daemon log says the same.
        inst.start()
        client = smtp_transaction(inst)
        try:
            code, text = client.rcpt("alice@example.test")
            assert 400 <= code < 500, (code, text)
        finally:
            client.close()
        line = inst.wait_for_log(r"ldap.*certificate.*ldap_tls_ca_file "
                                 + re.escape(other["ca"]))
        assert line


def test_ldaps_certificate_failure_names_ldap_tls_ca_file(
        make_instance, tmp_path):
    """ldaps:// (the handshake before any LDAP message, inside libldap's
    bind): a wrong CA says "certificate" and names ldap_tls_ca_file; the
    right one works."""
    ours = tlsutil.make_certs(hostname="localhost")
    other = tlsutil.make_certs(hostname="other-ca.test")
    with slapd_fixture.Slapd(tmp_path, tls=ours) as server:
        inst = ldap_instance(make_instance, server, tmp_path,
                             ldap_server_uris=server.ldaps_url,
                             ldap_tls_ca_file=ours["ca"],
                             ldap_cache_positive_ttl="0",
                             ldap_cache_negative_ttl="0")
        provision(inst)
        assert "alice@example.test" in ctl_ok(
            inst, "route", "alice@example.test").stdout
        # The operations went over the ldaps:// listener.
        assert re.search(r"conn=\d+ fd=\d+ ACCEPT from IP=127\.0\.0\.1:\d+ "
                         r"\(IP=127\.0\.0\.1:%d\)" % server.ldaps_port,
                         server.log()), server.log()[-2000:]

        inst.params["ldap_tls_ca_file"] = other["ca"]
        inst.write_main_conf()
        result = ctl_ok(inst, "route", "alice@example.test",
                        expect=TEMPFAIL)
        assert server.ldaps_url in result.stdout, result.stdout
        assert "certificate" in result.stdout, result.stdout
        assert "ldap_tls_ca_file " + other["ca"] in result.stdout
        result = ctl_ok(inst, "mailbox", "add", "erin@example.test",
                        "--no-store", expect=TEMPFAIL)
        assert "certificate" in result.stderr, result.stderr
        assert "ldap_tls_ca_file " + other["ca"] in result.stderr
