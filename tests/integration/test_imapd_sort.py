"""imapd SORT, THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256) and
ESORT (RFC 5267) on a mailbox whose answers were worked out by hand from
the RFC's rules (base subject, sent date in UTC, first address's
mailbox, sequence order for ties), not taken from imapd's output.

The mailbox (label, sequence number, base subject, sent date in UTC,
From's mailbox), delivered in this order:

  A 1  lunch plans    2024-01-01 11:00  carol   "Lunch plans", +0100
  B 2  lunch plans    2024-01-01 11:30  aaron   "Re: ...", GMT; refs A
  C 3  lunch plans    2024-01-01 11:45  bob     "Re: [list] Fwd: ... (fwd)",
                                                -0500 with a comment; A B
  D 4  lunch plans    2024-01-01 10:00  dan     "[fwd: Lunch plans]"
  E 5  budget review  2024-01-02 09:00  erin    an RFC 2047 encoded word
  F 6  [only blob]    2024-01-03 00:00  frank   no Date: the arrival;
                                                In-Reply-To E
  G 7  budget review  2024-01-03 08:00  gina    2-digit year; refs
                                                <missing> E
  H 8  budget review  2024-01-04 08:00  hal     "Re: ..."; refs <ghost>
  I 9  trip           2024-01-05 08:00  ivy     refs <lost>
  J 10 trip           2024-01-06 08:00  jay     "Re: Trip"; refs <lost>
"""

import os
import re

import pytest

from imapdutil import Raw, deliver, make_imap_instance

T0 = 1706745600           # 2024-02-01 00:00 UTC: arrival times
F_ARRIVAL = 1704240000    # 2024-01-03 00:00 UTC

MSGS = [
    # label, headers, arrival
    ("A", "Subject: Lunch plans\nDate: Mon, 1 Jan 2024 12:00:00 +0100\n"
          "From: Carol <carol@x.test>\nCc: zoe@x.test\n"
          "Message-ID: <a@t>\n", T0 + 50),
    ("B", "Subject: Re: Lunch plans\nDate: Mon, 1 Jan 2024 11:30:00 GMT\n"
          "From: \"Zed\" <aaron@x.test>\nMessage-ID: <b@t>\n"
          "References: <a@t>\n", T0 + 10),
    ("C", "Subject: Re: [list] Fwd: Lunch plans (fwd)\n"
          "Date: 1 Jan 2024 06:45:00 -0500 (EST)\n"
          "From: bob@x.test (Bobby)\nCc: Amy <amy@x.test>\n"
          "Message-ID: <c@t>\nReferences: <a@t>\n <b@t>\n", T0 + 40),
    ("D", "Subject: [fwd: Lunch plans]\n"
          "Date: Mon, 01 Jan 2024 10:00:00 +0000\n"
          "From: Dan <dan@x.test>\nMessage-ID: <d@t>\n", T0 + 20),
    ("E", "Subject: =?utf-8?q?Budget_review?=\n"
          "Date: Tue, 2 Jan 2024 09:00:00 +0000\n"
          "From: erin@x.test\nMessage-ID: <e@t>\n", T0 + 30),
    ("F", "Subject: [only blob]\nFrom: Frank <frank@x.test>\n"
          "Message-ID: <f@t>\nIn-Reply-To: <e@t>\n", F_ARRIVAL),
    ("G", "Subject: Budget review\nDate: Wed, 3 Jan 24 08:00:00 +0000\n"
          "From: gina@x.test\nMessage-ID: <g@t>\n"
          "References: <missing@t> <e@t>\n", T0 + 60),
    ("H", "Subject: Re: Budget review\n"
          "Date: Thu, 4 Jan 2024 08:00:00 +0000\n"
          "From: hal@x.test\nMessage-ID: <h@t>\n"
          "References: <ghost@t>\n", T0 + 5),
    ("I", "Subject: Trip\nDate: Fri, 5 Jan 2024 08:00:00 +0000\n"
          "From: ivy@x.test\nMessage-ID: <i@t>\nReferences: <lost@t>\n",
     T0 + 5),
    ("J", "Subject: Re: Trip\nDate: Sat, 6 Jan 2024 08:00:00 +0000\n"
          "From: jay@x.test\nMessage-ID: <j@t>\nReferences: <lost@t>\n",
     T0 + 70),
]


def body_for(i):
    # Sizes differ and do not follow the delivery order.
    return "x" * ((i * 37) % 11 * 10 + 1) + "\n"


@pytest.fixture
def box(make_instance):
    inst, store = make_imap_instance(make_instance)
    texts = {}
    for i, (label, headers, arrival) in enumerate(MSGS):
        text = ("To: alice@example.test\nX-Label: %s\n%s\n%s"
                % (label, headers, body_for(i)))
        name = deliver(store, text, when=T0 + i)
        os.utime(os.path.join(store, "new", name), (arrival, arrival))
        texts[label] = text
    r = Raw(inst)
    assert r.login()[-1].startswith("L OK")
    lines = r.cmd("SELECT INBOX", "s")
    assert lines[-1].startswith("s OK"), lines
    # The sequence numbers and UIDs of the labels.
    lines = r.cmd("FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (X-Label)])",
                  "f")
    seq_of, uid_of = {}, {}
    text = "\n".join(lines)
    for m in re.finditer(r"\* (\d+) FETCH \(UID (\d+) BODY\[HEADER\.FIELDS "
                         r"\(X-LABEL\)\] \{\d+\}\nX-Label: (\w)", text,
                         re.IGNORECASE):
        seq_of[m.group(3)] = int(m.group(1))
        uid_of[m.group(3)] = int(m.group(2))
    assert sorted(seq_of) == [label for label, _, _ in MSGS], lines
    r.seq_of, r.uid_of, r.texts = seq_of, uid_of, texts
    yield r
    r.close()


def seqs(r, labels):
    return [r.seq_of[x] for x in labels]


def answer(r, command, prefix, tag="q"):
    lines = r.cmd(command, tag)
    assert lines[-1].startswith(tag + " OK"), lines
    found = [x for x in lines[:-1] if x.startswith(prefix)]
    assert len(found) == 1, lines
    return found[0][len(prefix):].strip()


def sort(r, command):
    return [int(x) for x in answer(r, command, "* SORT").split()]


def test_capabilities(box):
    caps = answer(box, "CAPABILITY", "* CAPABILITY").split()
    for cap in ("SORT", "ESORT", "THREAD=REFERENCES",
                "THREAD=ORDEREDSUBJECT"):
        assert cap in caps


def test_sort_subject_base_subject_and_ties(box):
    # "[only blob]" < "budget review" < "lunch plans" < "trip"; equal
    # base subjects keep sequence order.
    assert sort(box, "SORT (SUBJECT) UTF-8 ALL") == \
        seqs(box, "FEGHABCDIJ")
    assert sort(box, "SORT (SUBJECT DATE) UTF-8 ALL") == \
        seqs(box, "FEGHDABCIJ")


def test_sort_reverse_keeps_sequence_order_for_ties(box):
    assert sort(box, "SORT (REVERSE SUBJECT) US-ASCII ALL") == \
        seqs(box, "IJABCDEGHF")


def test_sort_date_is_utc_sent_date_or_arrival(box):
    assert sort(box, "SORT (REVERSE DATE) UTF-8 ALL") == \
        seqs(box, "JIHGFECBAD")


def test_sort_from_cc_by_first_mailbox(box):
    assert sort(box, "SORT (FROM) UTF-8 ALL") == seqs(box, "BCADEFGHIJ")
    # No Cc sorts as "" (first), then amy, zoe.
    assert sort(box, "SORT (CC) UTF-8 ALL") == seqs(box, "BDEFGHIJCA")


def test_sort_arrival_and_size(box):
    assert sort(box, "SORT (ARRIVAL) UTF-8 ALL") == seqs(box, "FHIBDECAGJ")
    # RFC822.SIZE: the text with CRLF line ends.
    size = {label: len(text) + text.count("\n")
            for label, text in box.texts.items()}
    expect = sorted(size, key=lambda x: (size[x], box.seq_of[x]))
    assert sort(box, "SORT (SIZE) UTF-8 ALL") == seqs(box, expect)


def test_sort_with_criteria_and_uid(box):
    assert sort(box, "SORT (DATE) UTF-8 FROM x.test NOT SUBJECT budget") \
        == seqs(box, "DABCFIJ")
    assert sort(box, "UID SORT (DATE) UTF-8 ALL") == \
        [box.uid_of[x] for x in "DABCEFGHIJ"]


def test_sort_errors(box):
    lines = box.cmd("SORT (DATE) KOI8-R ALL", "e1")
    assert lines[-1].startswith("e1 NO [BADCHARSET"), lines
    for bad in ("SORT (BOGUS) UTF-8 ALL", "SORT DATE UTF-8 ALL",
                "SORT (DATE REVERSE) UTF-8 ALL", "SORT (DATE) UTF-8",
                "SORT () UTF-8 ALL"):
        lines = box.cmd(bad, "e2")
        assert lines[-1].startswith("e2 BAD"), (bad, lines)


def test_esort(box):
    d = box.seq_of
    got = answer(box, "SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL",
                 "* ESEARCH")
    # MIN and MAX: first and last in sort order; ALL in sort order.
    assert got == '(TAG "q") MIN %d MAX %d COUNT 10 ALL %s' % (
        d["D"], d["J"], "4,1:3,5:10"), got
    assert [d[x] for x in "DABCEFGHIJ"] == [4, 1, 2, 3, 5, 6, 7, 8, 9, 10]
    got = answer(box, "UID SORT RETURN (COUNT) (SUBJECT) UTF-8 ALL",
                 "* ESEARCH")
    assert got == '(TAG "q") UID COUNT 10', got


def thread(r, command):
    return answer(r, command, "* THREAD")


def render(r, text, uid=False):
    """Labels in a thread text to numbers."""
    table = r.uid_of if uid else r.seq_of
    return re.sub(r"[A-J]", lambda m: str(table[m.group(0)]), text)


def test_thread_orderedsubject(box):
    # Groups by base subject, each group's first message by date is the
    # parent of the rest (by date); groups by their first date.
    assert thread(box, "THREAD ORDEREDSUBJECT UTF-8 ALL") == \
        render(box, "(D (A)(B)(C))(E (G)(H))(F)(I J)")


def test_thread_references(box):
    # A <- B <- C by References; D is a reply with A's subject (step 5);
    # E's parent <missing> and H's <ghost> are dummies pruned away; F and
    # G answer E, H joins E by subject (a reply); I and J share the
    # dummy <lost>, kept at the top with its two children.  Siblings
    # and threads by sent date (a dummy by its first child).
    assert thread(box, "THREAD REFERENCES UTF-8 ALL") == \
        render(box, "(A (D)(B C))(E (F)(G)(H))((I)(J))")
    assert thread(box, "UID THREAD REFERENCES UTF-8 ALL") == \
        render(box, "(A (D)(B C))(E (F)(G)(H))((I)(J))", uid=True)


def test_thread_only_the_matches(box):
    assert thread(box, "THREAD REFERENCES UTF-8 NOT FROM bob") == \
        render(box, "(A (D)(B))(E (F)(G)(H))((I)(J))")
    assert thread(box, "THREAD REFERENCES UTF-8 SUBJECT nothing-like-it") \
        == ""


def test_thread_errors(box):
    for bad, status in (("THREAD BOGUS UTF-8 ALL", "BAD"),
                        ("THREAD REFERENCES UTF-8", "BAD"),
                        ("THREAD REFERENCES KOI8-R ALL", "NO")):
        lines = box.cmd(bad, "e")
        assert lines[-1].startswith("e " + status), (bad, lines)


def test_thread_deep_chain_and_loop(make_instance):
    """A reply chain as long as the mailbox is written without recursion
    and references that form a loop do not hang or nest forever."""
    inst, store = make_imap_instance(make_instance)
    n = 400
    for i in range(1, n + 1):
        refs = "".join(" <m%d@t>" % k for k in range(max(1, i - 3), i))
        deliver(store, "Subject: Chain\nDate: %s\nMessage-ID: <m%d@t>\n%s\n"
                "x\n" % ("Mon, 1 Jan 2024 %02d:%02d:00 +0000"
                         % (i // 60 % 24, i % 60), i,
                         "References:" + refs + "\n" if refs else ""))
    # Two messages naming each other as parent: a loop in the input.
    deliver(store, "Subject: Loop\nMessage-ID: <p@t>\nReferences: <q@t>\n\nx\n")
    deliver(store, "Subject: Loop\nMessage-ID: <q@t>\nReferences: <p@t>\n\nx\n")
    r = Raw(inst)
    assert r.login()[-1].startswith("L OK")
    assert r.cmd("SELECT INBOX", "s")[-1].startswith("s OK")
    got = answer(r, "THREAD REFERENCES UTF-8 ALL", "* THREAD")
    chain = "(" + " ".join(str(i) for i in range(1, n + 1)) + ")"
    assert got.startswith(chain), got[:200]
    # p's parent is q, then q's parent would be p: that link is refused;
    # q stays the child of p's thread ... p is q's child: one thread.
    assert got[len(chain):] in ("(%d %d)" % (n + 1, n + 2),
                                "(%d %d)" % (n + 2, n + 1)), got[len(chain):]
    r.close()
