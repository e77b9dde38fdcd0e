"""imapd driven by a second real client library besides mbsync: Debian's
Mail::IMAPClient (libmail-imapclient-perl; the issue names Python's
imapclient, which Debian 12 does not ship).  The Perl client logs in,
selects, fetches whole messages and headers, searches, sorts on the
server and uses CONDSTORE (FETCH MODSEQ, SEARCH MODSEQ, FETCH
CHANGEDSINCE), parsing the answers itself; the test checks what it
made of them."""

import subprocess

import pytest

from imapdutil import USER, PASSWORD, deliver, make_imap_instance, message

SCRIPT = r"""
use strict;
use warnings;
use Mail::IMAPClient;

my ($port, $user, $pass) = @ARGV;
my $imap = Mail::IMAPClient->new(Server => '127.0.0.1', Port => $port,
    User => $user, Password => $pass, Uid => 1, Timeout => 20)
    or die "connect/login: $@\n";
print "authenticated ", ($imap->IsAuthenticated ? 1 : 0), "\n";
for my $cap (qw(CONDSTORE SORT IMAP4rev2)) {
    print "capability_$cap ", ($imap->has_capability($cap) ? 1 : 0), "\n";
}
$imap->select('INBOX') or die "select: ", $imap->LastError, "\n";
print "count ", $imap->message_count('INBOX'), "\n";
my @uids = $imap->search('ALL');
print "uids @uids\n";
my $text = $imap->message_string($uids[0])
    or die "fetch: ", $imap->LastError, "\n";
print "first_size ", length($text), "\n";
print "first_body ", ($text =~ /\r\n\r\nBody of cherry\.\r\n$/ ? 1 : 0), "\n";
print "subject2 ", $imap->get_header($uids[1], 'Subject'), "\n";
my @carol = $imap->search('FROM', 'carol');
print "from_carol @carol\n";
my @sorted = $imap->sort('SUBJECT', 'UTF-8', 'ALL');
print "sorted @sorted\n";
my @rsorted = $imap->sort('REVERSE FROM', 'UTF-8', 'ALL');
print "sorted_reverse_from @rsorted\n";
# CONDSTORE: every message's MODSEQ, one flag change, what changed since.
my $h = $imap->fetch_hash(\@uids, 'FLAGS', 'MODSEQ')
    or die "fetch_hash: ", $imap->LastError, "\n";
my $max = 0;
for my $u (@uids) {
    my ($m) = $h->{$u}{MODSEQ} =~ /(\d+)/;
    $max = $m if $m > $max;
}
print "modseq_all ", (scalar(grep { defined $h->{$_}{MODSEQ} } @uids)), "\n";
$imap->set_flag('\\Flagged', $uids[2]) or die "store: ", $imap->LastError;
# SEARCH MODSEQ n matches n and above (RFC 7162 3.1.5).
my @changed = $imap->search('MODSEQ', $max + 1);
print "changed_search @changed\n";
my $lines = $imap->fetch(\@uids, "(FLAGS) (CHANGEDSINCE $max)")
    or die "changedsince: ", $imap->LastError, "\n";
my @fetched = map { /^\* \d+ FETCH \(.*UID (\d+)/ ? $1 : () } @$lines;
my ($flags) = map { /FLAGS \(([^)]*)\)/ ? $1 : () } @$lines;
print "changed_fetch @fetched\n";
print "changed_flags $flags\n";
$imap->logout;
print "done\n";
"""


@pytest.fixture
def imap(make_instance):
    inst, store = make_imap_instance(make_instance)
    for subject, sender, body in (
            ("cherry", "carol@remote.test", "Body of cherry.\n"),
            ("apple", "alice@remote.test", "Body of apple.\n"),
            ("banana", "bob@remote.test", "Body of banana.\n")):
        deliver(store, message(subject, body=body, sender=sender))
    return inst


def test_mail_imapclient(imap):
    r = subprocess.run(["perl", "-", str(imap.port("imap")), USER, PASSWORD],
                       input=SCRIPT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    out = dict(line.split(" ", 1) if " " in line else (line, "")
               for line in r.stdout.splitlines())
    assert out["authenticated"] == "1"
    assert out["capability_CONDSTORE"] == "1"
    assert out["capability_SORT"] == "1"
    assert out["capability_IMAP4rev2"] == "1"
    assert out["count"] == "3"
    uids = out["uids"].split()
    assert len(uids) == 3 and uids == sorted(uids, key=int)
    # message_string: the whole first message (cherry), CRLF.
    assert out["first_body"] == "1"
    assert out["subject2"] == "apple"
    assert out["from_carol"] == uids[0]
    # SORT SUBJECT: apple, banana, cherry; REVERSE FROM: carol, bob, alice.
    assert out["sorted"].split() == [uids[1], uids[2], uids[0]]
    assert out["sorted_reverse_from"].split() == [uids[0], uids[2], uids[1]]
    assert out["modseq_all"] == "3"
    # Only the message whose flag changed is above the old highest.
    assert out["changed_search"] == uids[2]
    assert out["changed_fetch"] == uids[2]
    assert "\\Flagged" in out["changed_flags"]
    assert "done" in out
