"""imapd SEARCH matches decoded text (RFC 3501 6.4.4): RFC 2047 encoded
words in headers, base64 and quoted-printable bodies, charsets to UTF-8,
case-insensitively (ASCII and Latin-1 letters)."""

import base64

import pytest

from imapdutil import deliver, login, make_imap_instance, message, no


@pytest.fixture
def imap(make_instance):
    inst, store = make_imap_instance(make_instance)
    inst.store = store
    return inst


def usearch(c, key, word):
    """SEARCH CHARSET UTF-8 key <literal word>; the matching numbers."""
    c.literal = word.encode("utf-8")
    typ, data = c.search("UTF-8", key)
    assert typ == "OK", (key, word, data)
    return data[0].split()


def test_search_decoded(imap):
    # 1: Subject in UTF-8 B, body base64 UTF-8.
    body = base64.encodebytes("Schöne Grüße aus Köln\n".encode()).decode()
    deliver(imap.store, message(
        "=?UTF-8?B?%s?=" % base64.b64encode("Äpfel für alle".encode())
        .decode(), body=body,
        extra="MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
              "Content-Transfer-Encoding: base64\n"))
    # 2: From and Subject in ISO-8859-1 Q (two adjacent words), body QP
    # Latin-1 with a soft line break.
    msg = message("=?ISO-8859-1?Q?Caf=E9_cr=E8me?= =?ISO-8859-1?Q?_br=FBl=E9e?=",
                  body="Die Stra=DFe ist la=\nng und =C9TROITE.\n",
                  extra="MIME-Version: 1.0\nContent-Type: text/plain; "
                        "charset=iso-8859-1\n"
                        "Content-Transfer-Encoding: quoted-printable\n")
    msg = msg.replace("From: Bob <", "From: =?iso-8859-1?q?J=F6rg?= <", 1)
    deliver(imap.store, msg)
    # 3: plain ASCII, with raw base64 of a word only in an attachment.
    deliver(imap.store, message("plain", body="nothing special\n"))
    c = login(imap)
    c.select()
    assert usearch(c, "SUBJECT", "äpfel") == [b"1"]
    assert usearch(c, "SUBJECT", "FÜR") == [b"1"]
    assert usearch(c, "BODY", "GRÜSSE") == []
    assert usearch(c, "BODY", "grüße") == [b"1"]
    assert usearch(c, "BODY", "KÖLN") == [b"1"]
    assert usearch(c, "TEXT", "köln") == [b"1"]
    assert usearch(c, "TEXT", "ÄPFEL") == [b"1"]
    assert usearch(c, "SUBJECT", "CAFÉ CRÈME BRÛLÉE") == [b"2"]
    assert usearch(c, "FROM", "jörg") == [b"2"]
    assert usearch(c, "HEADER FROM", "JÖRG") == [b"2"]
    assert usearch(c, "BODY", "straße") == [b"2"]
    assert usearch(c, "BODY", "lang und étroite") == [b"2"]
    assert usearch(c, "TEXT", "nothing") == [b"3"]
    # The encoded forms are not what matches.
    typ, data = c.search(None, "SUBJECT", "ISO-8859-1")
    assert data == [b""]
    typ, data = c.search("US-ASCII", "BODY", "SPECIAL")
    assert data == [b"3"]
    no(c.search("KOI8-R", "BODY", "x"), "BADCHARSET")
    c.logout()


def test_esearch_return_options(imap):
    """RFC 4731: SEARCH RETURN (MIN MAX COUNT ALL) answers one ESEARCH
    line tagged with the command's tag; RETURN () means ALL."""
    from imapdutil import Raw
    for i in range(6):
        deliver(imap.store, message("es%d" % i,
                                    body="needle\n" if i != 2 else "x\n"))
    r = Raw(imap)
    r.login()
    r.cmd("SELECT INBOX", "s")
    r.cmd("STORE 5 +FLAGS.SILENT (\\Deleted)", "d")
    lines = r.cmd("SEARCH RETURN (MIN MAX COUNT ALL) BODY needle "
                  "UNDELETED", "A1")
    assert lines[0] == '* ESEARCH (TAG "A1") MIN 1 MAX 6 COUNT 4 ALL 1:2,4,6',\
        lines
    assert lines[1].startswith("A1 OK"), lines
    lines = r.cmd("UID SEARCH RETURN () CHARSET UTF-8 BODY needle", "A2")
    assert lines[0] == '* ESEARCH (TAG "A2") UID ALL 1:2,4:6', lines
    lines = r.cmd("SEARCH RETURN (COUNT) SUBJECT nothing-like-it", "A3")
    assert lines[0] == '* ESEARCH (TAG "A3") COUNT 0', lines
    lines = r.cmd("SEARCH RETURN (MIN MAX) SUBJECT nothing-like-it", "A4")
    assert lines[0] == '* ESEARCH (TAG "A4")', lines
    lines = r.cmd("SEARCH RETURN (SAVE2) ALL", "A5")
    assert lines[-1].startswith("A5 BAD"), lines
    # Without RETURN the classic answer.
    assert r.cmd("SEARCH BODY needle", "A6")[0] == "* SEARCH 1 2 4 5 6"
    caps = r.cmd("CAPABILITY", "c")[0]
    assert " ESEARCH" in caps, caps
    r.close()
