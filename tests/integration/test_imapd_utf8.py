"""imapd UTF8=ACCEPT (RFC 6855): after ENABLE UTF8=ACCEPT, mailbox names
go both ways in UTF-8 (on disk they stay modified UTF-7, RFC 3501
5.1.3, so other clients and sessions see the same folders); before it,
modified UTF-7 only.  The expected modified UTF-7 forms are computed
here from RFC 3501's rule (UTF-16BE, base64 with ',' for '/', no
padding, between '&' and '-'; '&' itself as "&-")."""

import base64
import os

import pytest

from imapdutil import Raw, make_imap_instance


def mutf7(name):
    out, run = [], []

    def flush():
        if run:
            b = base64.b64encode("".join(run).encode("utf-16-be"))
            out.append("&" + b.decode().rstrip("=").replace("/", ",") + "-")
            run.clear()
    for ch in name:
        if 0x20 <= ord(ch) < 0x7f:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


NAMES = ["Präsentation", "Ünïcödé.Ordner", "Post 📬", "A&B", "日本語"]


@pytest.fixture
def imap(make_instance):
    inst, store = make_imap_instance(make_instance)
    inst.store = store
    return inst


def session(imap, enable):
    r = Raw(imap)
    assert r.login()[-1].startswith("L OK")
    if enable:
        lines = r.cmd("ENABLE UTF8=ACCEPT", "e")
        assert lines == ["* ENABLED UTF8=ACCEPT", "e OK Enabled"], lines
    return r


def cmd(r, text, tag="t"):
    r.send(("%s %s\r\n" % (tag, text)).encode())
    lines = []
    while True:
        line = r.line().encode("latin-1").decode("utf-8")
        lines.append(line)
        if line.startswith(tag + " "):
            return lines


def test_capability_and_enable(imap):
    r = session(imap, False)
    assert "UTF8=ACCEPT" in r.cmd("CAPABILITY", "c")[0].split()
    r = session(imap, True)
    # A second ENABLE enables nothing new (RFC 5161 3.1).
    assert r.cmd("ENABLE UTF8=ACCEPT", "e2")[0] == "* ENABLED"


def test_utf8_names_both_ways(imap):
    r = session(imap, True)
    for name in NAMES:
        lines = cmd(r, 'CREATE "%s"' % name, "c")
        assert lines[-1].startswith("c OK"), (name, lines)
        # On disk: modified UTF-7.
        assert os.path.isdir(os.path.join(imap.store, "." + mutf7(name),
                                          "cur")), (name, mutf7(name))
    lines = cmd(r, 'LIST "" "*"', "l")
    listed = {x.split(' "." ', 1)[1] for x in lines[:-1]}
    for name in NAMES:
        assert '"%s"' % name in listed, (name, lines)
    lines = cmd(r, 'STATUS "Präsentation" (MESSAGES)', "s")
    assert lines[0] == '* STATUS "Präsentation" (MESSAGES 0)', lines
    assert cmd(r, 'SELECT "Post 📬"', "x")[-1].startswith("x OK")
    # 8-bit header bytes in an APPEND into a UTF-8 named mailbox.
    msg = "Subject: Grüße\r\nFrom: jörg@bücher.example\r\n\r\nHallo\r\n"
    data = msg.encode()
    r.send(b'a APPEND "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" {%d+}\r\n%s\r\n'
           % (len(data), data))
    assert r.until_tagged("a")[-1].startswith("a OK [APPENDUID")
    folder = os.path.join(imap.store, "." + mutf7("日本語"), "cur")
    (only,) = os.listdir(folder)
    with open(os.path.join(folder, only), "rb") as f:
        assert f.read() == data.replace(b"\r\n", b"\n")
    lines = cmd(r, 'RENAME "A&B" "A&B neu"', "rn")
    assert lines[-1].startswith("rn OK"), lines
    assert os.path.isdir(os.path.join(imap.store, ".A&-B neu"))


def test_modified_utf7_without_enable(imap):
    r = session(imap, True)
    for name in NAMES:
        assert cmd(r, 'CREATE "%s"' % name, "c")[-1].startswith("c OK")
    r = session(imap, False)
    lines = r.cmd('LIST "" "*"', "l")
    listed = {x.split(' "." ', 1)[1] for x in lines[:-1]}
    for name in NAMES:
        assert '"%s"' % mutf7(name) in listed, (name, lines)
    # An 8-bit name without UTF8=ACCEPT is no mailbox name.
    r.send(b'c CREATE "Pr\xc3\xa4sentation2"\r\n')
    reply = r.until_tagged("c")[-1]
    assert reply.startswith("c NO") or reply.startswith("c BAD"), reply


def test_invalid_utf8_is_bad(imap):
    r = session(imap, True)
    for raw in (b"\xc3", b"\xe0\x80\x80", b"\xed\xa0\x80", b"a\x01b"):
        r.send(b'c CREATE "%s"\r\n' % raw)
        reply = r.until_tagged("c")[-1]
        assert reply.startswith("c BAD") or reply.startswith("c NO"), \
            (raw, reply)
    made = [d for d in os.listdir(imap.store) if d.startswith(".")
            and os.path.isdir(os.path.join(imap.store, d, "cur"))]
    assert not any("&" in d for d in made), made
