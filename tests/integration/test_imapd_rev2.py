"""imapd IMAP4rev2 (RFC 9051) beside IMAP4rev1: CAPABILITY names both,
ENABLE IMAP4rev2 switches the session to the rev2 forms (RFC 9051
Appendix E): no \\Recent and no RECENT response, SEARCH answers ESEARCH,
SELECT sends LIST and [CLOSED] but no UNSEEN code, mailbox names in
UTF-8; STATUS SIZE and DELETED; FETCH BINARY (RFC 3516, folded into
rev2) with the transfer encoding undone; APPEND of a literal8; the
HASCHILDREN and CANNOT response codes.  Raw commands over a socket, the
expected answers worked out from the RFC text."""

import base64
import os

import pytest

from imapdutil import Raw, deliver, make_imap_instance, message


@pytest.fixture
def imap(make_instance):
    inst, store = make_imap_instance(make_instance)
    inst.store = store
    return inst


class Rev2(Raw):
    """Raw lines plus literals: a response line ending in {n} or ~{n}
    is joined with its n bytes (as bytes, in self.literals)."""

    def response(self, tag):
        out = []
        while True:
            line = self.line()
            lits = []
            while line.endswith("}") and "{" in line:
                n = int(line[line.rindex("{") + 1:-1])
                while len(self.buf) < n:
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        raise EOFError("closed in a literal")
                    self.buf += chunk
                lits.append(self.buf[:n])
                self.buf = self.buf[n:]
                line = line + "<lit>" + self.line()
            out.append((line, lits))
            if line.startswith(tag + " "):
                return out

    def run(self, text, tag="t"):
        self.send("%s %s\r\n" % (tag, text))
        return self.response(tag)


def session(imap, rev2=True):
    r = Rev2(imap)
    assert r.login()[-1].startswith("L OK")
    if rev2:
        assert r.cmd("ENABLE IMAP4rev2", "e") == [
            "* ENABLED IMAP4rev2", "e OK Enabled"]
    return r


def test_capability_names_both_and_enable(imap):
    r = Rev2(imap)
    caps = r.cmd("CAPABILITY", "c")[0].split()
    for cap in ("IMAP4rev1", "IMAP4rev2", "BINARY", "STATUS=SIZE",
                "SEARCHRES"):
        assert cap in caps, caps
    # Before login ENABLE is not allowed (RFC 5161 3.1).
    assert r.cmd("ENABLE IMAP4rev2", "e")[-1].startswith("e NO")
    r = session(imap)
    # Enabled once: a second ENABLE enables nothing new.
    assert r.cmd("ENABLE IMAP4rev2", "e2") == ["* ENABLED", "e2 OK Enabled"]


def test_no_recent_in_rev2(imap):
    deliver(os.path.join(imap.store), message("one"))
    # IMAP4rev1 still has \Recent: this session claims message 1.
    r1 = session(imap, rev2=False)
    lines = r1.cmd("SELECT INBOX", "s")
    assert "* 1 RECENT" in lines, lines
    assert "* OK [UNSEEN 1] First unseen" in lines, lines
    assert "\\Recent" in r1.cmd("FETCH 1 FLAGS", "f")[0]
    r1.cmd("LOGOUT", "o")
    deliver(os.path.join(imap.store), message("two"))
    r2 = session(imap)
    lines = r2.cmd("SELECT INBOX", "s")
    assert not any(x.endswith(" RECENT") for x in lines), lines
    assert not any("[UNSEEN" in x for x in lines), lines
    # RFC 9051 6.3.2: the LIST response of the selected mailbox.
    assert '* LIST () "." "INBOX"' in lines or \
        '* LIST () "." INBOX' in lines, lines
    assert "* 2 EXISTS" in lines, lines
    for line in r2.cmd("FETCH 1:2 FLAGS", "f")[:-1]:
        assert "\\Recent" not in line, line
    # Message 2 was recent for this session: a rev1 session after it
    # sees no recent message (exactly one session claims each).
    r1 = session(imap, rev2=False)
    assert "* 0 RECENT" in r1.cmd("SELECT INBOX", "s")


def test_select_sends_closed(imap):
    r = session(imap)
    assert r.cmd("CREATE Other", "c")[-1].startswith("c OK")
    lines = r.cmd("SELECT INBOX", "s1")
    assert not any("[CLOSED]" in x for x in lines), lines
    lines = r.cmd("EXAMINE Other", "s2")
    # RFC 9051 6.3.2: [CLOSED] before the new mailbox's responses.
    assert lines[0].startswith("* OK [CLOSED]"), lines
    assert lines[-1].startswith("s2 OK [READ-ONLY]"), lines


def test_search_answers_esearch(imap):
    for i in range(3):
        deliver(imap.store, message("m%d" % i))
    r1 = session(imap, rev2=False)
    r1.cmd("SELECT INBOX", "s")
    assert r1.cmd("SEARCH ALL", "a")[0] == "* SEARCH 1 2 3"
    r = session(imap)
    r.cmd("SELECT INBOX", "s")
    uids = [int(x.split("UID ")[1].rstrip(")"))
            for x in r.cmd("FETCH 1:* UID", "f")[:-1]]
    assert r.cmd("SEARCH ALL", "a") == [
        '* ESEARCH (TAG "a") ALL 1:3', "a OK Search completed"]
    assert r.cmd("UID SEARCH ALL", "u")[0] == \
        '* ESEARCH (TAG "u") UID ALL %d:%d' % (uids[0], uids[2])
    assert r.cmd('SEARCH SUBJECT "m1"', "b")[0] == \
        '* ESEARCH (TAG "b") ALL 2'
    # Nothing matched: the tag alone (RFC 4731 3.1).
    assert r.cmd('SEARCH SUBJECT "nowhere"', "n")[0] == \
        '* ESEARCH (TAG "n")'
    assert r.cmd("SEARCH RETURN (COUNT) ALL", "c")[0] == \
        '* ESEARCH (TAG "c") COUNT 3'


def test_status_size_and_deleted(imap):
    names = [deliver(imap.store, message("s%d" % i, body="x" * (i * 100)))
             for i in range(3)]
    # W= is the size with CRLF line ends (RFC822.SIZE, RFC 8438 2).
    want = sum(int(n.split(",W=")[1]) for n in names)
    r = session(imap)
    r.cmd("SELECT INBOX", "s")
    assert r.cmd("STORE 2:3 +FLAGS (\\Deleted)", "d")[-1].startswith("d OK")
    sizes = [int(x.split("RFC822.SIZE ")[1].rstrip(")"))
             for x in r.cmd("FETCH 1:* RFC822.SIZE", "f")[:-1]]
    assert sum(sizes) == want
    r.cmd("UNSELECT", "x")
    assert r.cmd("STATUS INBOX (MESSAGES SIZE DELETED)", "t")[0] == \
        '* STATUS "INBOX" (MESSAGES 3 SIZE %d DELETED 2)' % want
    # STATUS=SIZE is offered to IMAP4rev1 sessions too.
    r1 = session(imap, rev2=False)
    assert r1.cmd("STATUS INBOX (SIZE)", "t")[0] == \
        '* STATUS "INBOX" (SIZE %d)' % want
    assert r1.cmd("STATUS INBOX (BOGUS)", "b")[-1].startswith("b BAD")


def test_list_in_utf8_with_child_attributes(imap):
    r = session(imap)
    r.send('c CREATE "Präsentation.Entwurf"\r\n'.encode())
    assert r.until_tagged("c")[-1].startswith("c OK")
    r.send(b'l LIST "" "*"\r\n')
    lines = [x.encode("latin-1").decode() for x in r.until_tagged("l")]
    assert '* LIST (\\HasChildren) "." "Präsentation"' in lines, lines
    assert '* LIST (\\HasNoChildren) "." "Präsentation.Entwurf"' in lines
    assert '* LIST (\\HasNoChildren) "." "INBOX"' in lines or \
        '* LIST (\\HasNoChildren) "." INBOX' in lines, lines
    # RFC 9051 7.1: HASCHILDREN, CANNOT.
    r.send('d DELETE "Präsentation"\r\n'.encode())
    assert r.until_tagged("d")[-1].startswith("d NO [HASCHILDREN]")
    assert r.cmd("DELETE INBOX", "i")[-1].startswith("i NO [CANNOT]")


PAYLOAD = bytes(range(256)) * 3
MULTIPART = (
    "From: a@example.test\nTo: b@example.test\nSubject: bin\n"
    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
    "--b\nContent-Type: application/octet-stream\n"
    "Content-Transfer-Encoding: base64\n\n%s\n"
    "--b\nContent-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n\n"
    "Gr=C3=BC=C3=9Fe, a long line that is =\nsoft broken\nline two\n"
    "--b\nContent-Type: text/plain\nContent-Transfer-Encoding: x-unknown\n\n"
    "whatever\n--b--\n" % base64.encodebytes(PAYLOAD).decode().strip())


def test_fetch_binary(imap):
    deliver(imap.store, MULTIPART)
    r = session(imap)
    r.cmd("SELECT INBOX", "s")
    # BINARY.PEEK: the decoded part, literal8 (it holds a NUL), no \Seen.
    (line, lits), tagged = r.run("FETCH 1 (BINARY.PEEK[1])", "p")
    assert line.startswith("* 1 FETCH (BINARY[1] ~{%d}" % len(PAYLOAD)), line
    assert lits == [PAYLOAD]
    assert tagged[0].startswith("p OK"), tagged
    assert "\\Seen" not in r.cmd("FETCH 1 FLAGS", "f")[0]
    # The line end before a boundary belongs to it (RFC 2046 5.1.1).
    qp = "Grüße, a long line that is soft broken\r\nline two".encode()
    res = r.run("FETCH 1 (BINARY.SIZE[1] BINARY.SIZE[2])", "z")
    assert res[0][0] == "* 1 FETCH (BINARY.SIZE[1] %d BINARY.SIZE[2] %d)" % (
        len(PAYLOAD), len(qp)), res
    # quoted-printable: soft breaks gone, hard ones CRLF; a plain literal.
    (line, lits), _ = r.run("FETCH 1 (BINARY.PEEK[2])", "q")
    assert "BINARY[2] {" in line, line
    assert lits == [qp]
    # A partial of the decoded content: literal8 only with a NUL in it.
    (line, lits), _ = r.run("FETCH 1 (BINARY.PEEK[1]<2.5>)", "o")
    assert "BINARY[1]<2> {5}" in line, line
    assert lits == [PAYLOAD[2:7]]
    (line, lits), _ = r.run("FETCH 1 (BINARY.PEEK[1]<255.3>)", "o")
    assert "BINARY[1]<255> ~{3}" in line, line
    assert lits == [PAYLOAD[255:258]]
    # An unknown encoding: NIL and NO [UNKNOWN-CTE] (RFC 3516 4.3).
    (line, _), tagged = r.run("FETCH 1 (BINARY.PEEK[3])", "u")
    assert line == "* 1 FETCH (BINARY[3] NIL)", line
    assert tagged[0].startswith("u NO [UNKNOWN-CTE]"), tagged
    # A section other than a part number is BAD.
    assert r.cmd("FETCH 1 (BINARY[1.TEXT])", "b")[-1].startswith("b BAD")
    # BINARY (not PEEK) sets \Seen and reports the flags.
    res = r.run("FETCH 1 (BINARY[1])", "n")
    assert "\\Seen" in res[0][0], res
    # BINARY[] is the whole message.
    (line, lits), _ = r.run("FETCH 1 (BINARY.PEEK[])", "w")
    assert lits[0] == MULTIPART.replace("\n", "\r\n").encode()


def test_append_literal8(imap):
    r = session(imap)
    data = b"Subject: nul\r\n\r\nbefore\x00after\r\n"
    r.send(b"a APPEND INBOX ~{%d+}\r\n%s\r\n" % (len(data), data))
    assert r.until_tagged("a")[-1].startswith("a OK [APPENDUID")
    (only,) = os.listdir(os.path.join(imap.store, "cur"))
    with open(os.path.join(imap.store, "cur", only), "rb") as f:
        assert f.read() == data.replace(b"\r\n", b"\n")
    r.cmd("SELECT INBOX", "s")
    (line, lits), _ = r.run("FETCH 1 (BINARY.PEEK[])", "w")
    assert line.startswith("* 1 FETCH (BINARY[] ~{%d}" % len(data)), line
    assert lits == [data]


def fetch_uids(r, cmd, tag):
    """The (seq, uid) pairs of a FETCH ... (UID) answer."""
    lines = r.cmd(cmd, tag)
    assert lines[-1].startswith(tag + " OK"), lines
    return [(int(x.split()[1]), int(x.split("UID ")[1].split()[0]
                                     .rstrip(")")))
            for x in lines[:-1] if " FETCH " in x]


def test_searchres_save_and_dollar(imap):
    """RFC 5182: RETURN (SAVE) keeps the result as UIDs; $ is a message
    set in FETCH, STORE, COPY, SEARCH and their UID forms; EXPUNGE drops
    entries; MIN/MAX alone save only those messages (2.1)."""
    for i in range(5):
        deliver(imap.store, message("m%d" % i))
    r = session(imap, rev2=False)     # SEARCHRES is not rev2-only
    assert r.cmd("CREATE Other", "c")[-1].startswith("c OK")
    r.cmd("SELECT INBOX", "s")
    uids = [u for _, u in fetch_uids(r, "FETCH 1:* (UID)", "f")]
    # SAVE alone: no untagged answer at all.
    assert r.cmd('SEARCH RETURN (SAVE) OR SUBJECT "m1" SUBJECT "m3"',
                 "a") == ["a OK Search completed, result saved"]
    assert fetch_uids(r, "FETCH $ (UID)", "f1") == [
        (2, uids[1]), (4, uids[3])]
    # Expunge message 2 (m1): $ now holds m3 only, at sequence 3.
    r.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)", "d")
    assert r.cmd("EXPUNGE", "x")[-1].startswith("x OK")
    assert fetch_uids(r, "FETCH $ (UID)", "f2") == [(3, uids[3])]
    lines = r.cmd("UID STORE $ +FLAGS (\\Flagged)", "u")
    assert lines[-1].startswith("u OK"), lines
    assert len(lines) == 2 and lines[0].startswith("* 3 FETCH ") and \
        "\\Flagged" in lines[0], lines
    assert r.cmd("SEARCH FLAGGED", "q")[0] == "* SEARCH 3"
    # $ as a search key and in UID SEARCH UID $.
    assert r.cmd("SEARCH $ FLAGGED", "k1")[0] == "* SEARCH 3"
    assert r.cmd("UID SEARCH UID $", "k2")[0] == "* SEARCH %d" % uids[3]
    assert r.cmd("SEARCH NOT $", "k3")[0] == "* SEARCH 1 2 4"
    lines = r.cmd("UID COPY $ Other", "cp")
    assert lines[-1].startswith("cp OK [COPYUID "), lines
    # SAVE with other options: ESEARCH for those, MIN alone saves MIN.
    assert r.cmd("SEARCH RETURN (SAVE MIN) ALL", "m")[0] == \
        '* ESEARCH (TAG "m") MIN 1'
    assert fetch_uids(r, "FETCH $ (UID)", "f3") == [(1, uids[0])]
    assert r.cmd("UID SEARCH RETURN (MAX SAVE MIN) ALL", "mm")[0] == \
        '* ESEARCH (TAG "mm") UID MIN %d MAX %d' % (uids[0], uids[4])
    assert fetch_uids(r, "FETCH $ (UID)", "f4") == [
        (1, uids[0]), (4, uids[4])]
    # With COUNT the whole result is saved.
    assert r.cmd("SEARCH RETURN (SAVE COUNT MIN) ALL", "cm")[0] == \
        '* ESEARCH (TAG "cm") MIN 1 COUNT 4'
    assert len(fetch_uids(r, "FETCH $ (UID)", "f5")) == 4
    # A failed SAVE empties $; an empty $ is an empty set, not an error.
    assert r.cmd("SEARCH RETURN (SAVE) NOSUCHKEY", "b")[-1].startswith(
        "b BAD")
    assert fetch_uids(r, "FETCH $ (UID)", "e1") == []
    assert r.cmd("SEARCH $", "e2")[0] == "* SEARCH"
    for verb in ("COPY", "MOVE", "UID MOVE"):
        lines = r.cmd("%s $ Other" % verb, "e3")
        assert len(lines) == 1 and lines[0].startswith("e3 OK") and \
            "COPYUID" not in lines[0], (verb, lines)
    # UID EXPUNGE $ removes only the saved messages (RFC 4315 + 5182).
    r.cmd('SEARCH RETURN (SAVE) SUBJECT "m4"', "s4")
    r.cmd("STORE 1:* +FLAGS.SILENT (\\Deleted)", "d2")
    lines = r.cmd("UID EXPUNGE $", "ux")
    assert lines == ["* 4 EXPUNGE", "ux OK Expunge completed"], lines
    assert fetch_uids(r, "FETCH 1:* (UID)", "f6") == [
        (1, uids[0]), (2, uids[2]), (3, uids[3])]
    # SORT with SAVE is refused (not part of this server's ESORT).
    assert r.cmd("SORT RETURN (SAVE) (DATE) UTF-8 ALL",
                 "so")[-1].startswith("so BAD")


def test_searchres_cleared_by_select(imap):
    for i in range(3):
        deliver(imap.store, message("c%d" % i))
    r = session(imap)
    r.cmd("SELECT INBOX", "s")
    assert r.cmd("SEARCH RETURN (SAVE) ALL", "a") == [
        "a OK Search completed, result saved"]
    assert len(fetch_uids(r, "FETCH $ (UID)", "f1")) == 3
    r.cmd("SELECT INBOX", "s2")
    assert fetch_uids(r, "FETCH $ (UID)", "f2") == []
    # rev2: ESEARCH with no match is the tag alone.
    assert r.cmd("SEARCH $", "q")[0] == '* ESEARCH (TAG "q")'
    r.cmd("SEARCH RETURN (SAVE) ALL", "a2")
    assert r.cmd("UNSELECT", "un")[-1].startswith("un OK")
    r.cmd("EXAMINE INBOX", "ex")
    assert fetch_uids(r, "FETCH $ (UID)", "f3") == []


def test_rename_sends_no_oldname_without_normalizing(imap):
    """RFC 9051 6.3.6: the LIST with OLDNAME answers a RENAME only when
    the server normalized a supplied name; imapd keeps names as sent,
    so RENAME answers as in the RFC's example: the tagged OK alone."""
    r = session(imap)
    assert r.cmd("CREATE Summer", "c")[-1].startswith("c OK")
    lines = r.cmd("RENAME Summer hiver", "r")
    assert lines == ["r OK Rename completed"], lines
    assert any(x.endswith(" hiver") or x.endswith('"hiver"')
               for x in r.cmd('LIST "" *', "l")), "renamed"
