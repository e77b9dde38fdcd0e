"""imapd against the rules of RFC 3501 and its extensions, one test per
rule: \\Recent for exactly one session (APPEND, COPY, MOVE and delivery
alike), SEARCH on address keys, MOVE's untagged COPYUID, the ABNF of
atoms and astrings, LIST-EXTENDED option rules (RFC 5258), LSUB of a
child whose parent is not subscribed, UIDVALIDITY of a mailbox created
again."""

import re

import pytest

from imapdutil import Raw, deliver, login, make_imap_instance, message


@pytest.fixture
def imap(make_instance):
    inst, store = make_imap_instance(make_instance)
    inst.store = store
    return inst


def crlf(text):
    return text.replace("\n", "\r\n").encode()


def search(c, *keys):
    typ, data = c.search(None, *keys)
    assert typ == "OK", data
    return [int(n) for n in data[0].split()]


def status_recent(c, name):
    typ, data = c.status(name, "(MESSAGES RECENT)")
    assert typ == "OK", data
    m = re.search(rb"MESSAGES (\d+) RECENT (\d+)", data[0])
    return int(m.group(1)), int(m.group(2))


def recent_of_select(c, name, readonly=False):
    typ, data = c.select(name, readonly=readonly)
    assert typ == "OK", data
    return int(c.untagged_responses["RECENT"][-1])


def test_recent_append_copy_move_one_session(imap):
    """RFC 3501 2.3.2: a message APPENDed, COPYed or MOVEd into a mailbox
    is \\Recent in exactly one session, the next to select it; STATUS
    RECENT, the RECENT response and SEARCH RECENT/NEW/OLD agree."""
    deliver(imap.store, message("one"))
    deliver(imap.store, message("two"))
    c = login(imap)
    assert c.create("Box")[0] == "OK"
    assert c.append("Box", r"(\Seen)", None, crlf(message("app")))[0] == "OK"
    assert c.append("Box", None, None, crlf(message("app2")))[0] == "OK"
    c.select("INBOX")
    assert c.copy("1", "Box")[0] == "OK"
    assert c.uid("MOVE", "2", "Box")[0] == "OK"
    # Nobody has selected Box: all four are recent.
    assert status_recent(c, "Box") == (4, 4)
    # EXAMINE sees them recent and does not take the flag away.
    assert recent_of_select(c, "Box", readonly=True) == 4
    assert search(c, "RECENT") == [1, 2, 3, 4]
    assert status_recent(c, "Box") == (4, 4)
    # The first SELECT gets them ...
    assert recent_of_select(c, "Box") == 4
    assert search(c, "RECENT") == [1, 2, 3, 4]
    assert search(c, "NEW") == [2, 3, 4]        # 1 was appended \Seen
    assert search(c, "OLD") == []
    typ, data = c.fetch("1:4", "FLAGS")
    assert all(b"\\Recent" in d for d in data), data
    # ... and no other session does, now or later.
    d = login(imap)
    assert status_recent(d, "Box") == (4, 0)
    assert recent_of_select(d, "Box") == 0
    assert search(d, "RECENT") == [] and search(d, "NEW") == []
    assert search(d, "OLD") == [1, 2, 3, 4]
    typ, data = d.fetch("1:4", "FLAGS")
    assert not any(b"\\Recent" in x for x in data), data
    # A message delivered while both have Box selected is recent in the
    # one that sees it first, only.
    deliver(imap.store + "/.Box", message("late"))
    assert c.noop()[0] == "OK"
    assert c.untagged_responses["RECENT"][-1] == b"5"
    assert search(c, "RECENT") == [1, 2, 3, 4, 5]
    d.noop()
    assert search(d, "RECENT") == []
    assert search(d, "OLD") == [1, 2, 3, 4, 5]
    c.logout()
    d.logout()
    e = login(imap)
    assert status_recent(e, "Box") == (5, 0)
    assert recent_of_select(e, "Box") == 0
    e.logout()


ADDRESSES = (
    "From: \"Smith, Robert\" <rob.smith@Example.ORG>\n"
    "To: Alice <alice@example.test>, undisclosed-recipients:;\n"
    "Cc: carol@c.example, Dave Doe <dave@d.example>\n"
    "Bcc: =?UTF-8?Q?Ren=C3=A9e?= <renee@r.example>\n"
    "Subject: addresses\n\nbody\n")


@pytest.mark.parametrize("key,needle,hit", [
    ("FROM", "Smith, Rob", True),           # display name with a comma
    ("FROM", "rob.smith@example.org", True),    # addr-spec, any case
    ("FROM", "SMITH@EX", True),
    ("FROM", "<rob.", True),                # the address as written
    ("FROM", "alice", False),
    ("TO", "Alice", True),
    ("TO", "alice@example.test", True),
    ("TO", "undisclosed", True),
    ("CC", "carol@c", True),
    ("CC", "Dave Doe", True),
    ("CC", "dave@d.example", True),
    ("CC", "rob", False),
    ("BCC", "renee@r", True),
    ("BCC", "Ren\u00e9e", True),            # the decoded display name
    ("BCC", "carol", False),
])
def test_search_address_keys_substring(imap, key, needle, hit):
    """RFC 3501 6.4.4: FROM/TO/CC/BCC match a substring of the header,
    display names and addr-spec alike, case-insensitively."""
    deliver(imap.store, "From: x@y.example\nTo: z@w.example\n"
            "Subject: other\n\nbody\n")
    deliver(imap.store, ADDRESSES)
    c = login(imap)
    c.select("INBOX")
    c.literal = needle.encode("utf-8")
    typ, data = c.search("UTF-8", key)
    assert typ == "OK", data
    assert data[0].split() == ([b"2"] if hit else []), (key, needle)
    c.logout()


def test_move_copyuid_untagged_before_expunge(imap):
    """RFC 6851 4.3: MOVE sends COPYUID in an untagged OK before the
    EXPUNGEs, the tagged OK after them, and no UID is 0."""
    for i in range(4):
        deliver(imap.store, message("m%d" % i))
    c = login(imap)
    c.create("Dest")
    c.logout()
    r = Raw(imap)
    r.login()
    r.cmd("SELECT INBOX")
    lines = r.cmd("UID MOVE 2:3 Dest", "m1")
    assert lines[0].startswith("* OK [COPYUID "), lines
    m = re.match(r"\* OK \[COPYUID (\d+) (\S+) (\S+)\]", lines[0])
    assert m.group(2) == "2:3" and m.group(3) == "1:2", lines
    assert lines[1:3] == ["* 3 EXPUNGE", "* 2 EXPUNGE"], lines
    assert lines[3].startswith("m1 OK"), lines
    assert "COPYUID" not in lines[3]
    r.cmd("LOGOUT", "z")
    r.close()


def test_mailbox_names_with_brackets(imap):
    """RFC 3501 9: '[' is an ATOM-CHAR and ']' an ASTRING-CHAR, so a
    mailbox name may hold both, quoted or as an atom; list-mailbox may
    hold them too."""
    r = Raw(imap)
    r.login()
    assert r.cmd("CREATE [Gmail]", "c1")[-1].startswith("c1 OK")
    assert r.cmd("CREATE a]b", "c2")[-1].startswith("c2 OK")
    assert r.cmd('CREATE "x[y"', "c3")[-1].startswith("c3 OK")
    assert r.cmd("CREATE x[z", "c4")[-1].startswith("c4 OK")
    lines = r.cmd('LIST "" [Gmail]', "l1")
    assert lines[0].endswith(' "." [Gmail]') or \
        lines[0].endswith(' "." "[Gmail]"'), lines
    lines = r.cmd('LIST "" x[*', "l2")
    names = sorted(l.rsplit(" ", 1)[1].strip('"') for l in lines[:-1])
    assert names == ["x[y", "x[z"], lines
    lines = r.cmd("SELECT [Gmail]", "s1")
    assert lines[-1].startswith("s1 OK"), lines
    lines = r.cmd("STATUS a]b (MESSAGES)", "s2")
    assert lines[0].startswith("* STATUS") and "MESSAGES 0" in lines[0]
    r.cmd("LOGOUT", "z")
    r.close()


LIST_LINE = re.compile(r'^(?:\* (?:LIST|LSUB) )?\(([^)]*)\) "\." '
                       r'"?([^" ]*)"?(?: (.*))?$')
SPECIAL = {"Drafts", "Junk", "Sent", "Trash"}


def parse_list(lines):
    """{name: (attributes, extended data)} of LIST/LSUB lines, without
    the special-use folders every new store has."""
    out = {}
    for line in lines:
        if isinstance(line, bytes):
            line = line.decode()
        m = LIST_LINE.match(line)
        assert m, line
        if m.group(2) not in SPECIAL:
            out[m.group(2)] = (set(m.group(1).split()), m.group(3))
    return out


def test_list_extended_option_rules(imap):
    """RFC 5258 3: RECURSIVEMATCH alone (or with REMOTE only) is BAD, an
    unknown selection option is BAD; with SUBSCRIBED it reports parents
    of subscribed children with CHILDINFO, and subscribed names that do
    not exist as \\NonExistent."""
    c = login(imap)
    for name in ("Foo", "Foo.Bar", "Baz"):
        assert c.create(name)[0] == "OK"
    c.subscribe("Foo.Bar")
    c.subscribe("Gone")
    r = Raw(imap)
    r.login()
    for tag, cmd in (("b1", 'LIST (RECURSIVEMATCH) "" "*"'),
                     ("b2", 'LIST (RECURSIVEMATCH REMOTE) "" "*"'),
                     ("b3", 'LIST (NOSUCHOPTION) "" "*"')):
        lines = r.cmd(cmd, tag)
        assert lines[-1].startswith(tag + " BAD"), lines
    lines = r.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"', "l1")
    assert lines[-1].startswith("l1 OK"), lines
    got = parse_list(lines[:-1])
    assert set(got) == {"Foo", "Gone"}, lines
    assert got["Foo"][1] == '("CHILDINFO" ("SUBSCRIBED"))', lines
    assert "\\Subscribed" not in got["Foo"][0]
    assert {"\\NonExistent", "\\Subscribed"} <= got["Gone"][0], lines
    assert got["Gone"][1] is None
    lines = r.cmd('LIST (SUBSCRIBED) "" "*"', "l2")
    got = parse_list(lines[:-1])
    assert set(got) == {"Foo.Bar", "Gone"}, lines
    assert all(a[1] is None for a in got.values()), lines
    # Without SUBSCRIBED, a subscribed name that is no folder is not
    # listed.
    lines = r.cmd('LIST "" "*"', "l3")
    assert set(parse_list(lines[:-1])) == {"INBOX", "Foo", "Foo.Bar",
                                            "Baz"}, lines
    r.cmd("LOGOUT", "z")
    r.close()
    c.logout()


def test_lsub_child_of_unsubscribed_parent(imap):
    """RFC 3501 6.3.9: LSUB with '%' shows the parent of a subscribed
    child that is not subscribed itself (or does not exist) as
    \\Noselect."""
    c = login(imap)
    c.create("Top.Kid")
    c.subscribe("Top.Kid")
    c.subscribe("Nowhere.Deep.Kid")
    typ, data = c.lsub('""', "%")
    assert typ == "OK"
    got = parse_list(data)
    assert got == {"Nowhere": ({"\\Noselect"}, None),
                   "Top": ({"\\Noselect"}, None)}, data
    typ, data = c.lsub('""', "*")
    got = parse_list(data)
    assert got == {"Nowhere.Deep.Kid": (set(), None),
                   "Top.Kid": (set(), None)}, data
    typ, data = c.lsub('""', "Nowhere.%")
    assert parse_list(data) == {"Nowhere.Deep": ({"\\Noselect"}, None)}
    c.subscribe("Top")
    typ, data = c.lsub('""', "%")
    got = parse_list(data)
    assert got == {"Nowhere": ({"\\Noselect"}, None),
                   "Top": (set(), None)}, data
    c.logout()


def test_uidvalidity_of_recreated_mailbox_differs(imap):
    """RFC 3501 2.3.1.1: a mailbox deleted and created again under the
    same name gets another UIDVALIDITY, even within the same second."""
    c = login(imap)
    seen = set()
    for _ in range(3):
        assert c.create("Again")[0] == "OK"
        typ, data = c.status("Again", "(UIDVALIDITY)")
        seen.add(int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1)))
        assert c.delete("Again")[0] == "OK"
    assert len(seen) == 3, seen
    c.logout()


def test_imaplib_still_fetches_sections(imap):
    """The bracket rule keeps FETCH sections whole."""
    deliver(imap.store, message("sect"))
    c = login(imap)
    c.select("INBOX")
    typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])")
    assert typ == "OK" and b"Subject: sect" in data[0][1], data
    c.logout()
