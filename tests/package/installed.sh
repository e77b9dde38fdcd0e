#!/bin/sh
# Install the ispmail .deb on this system and prove it works: run as root
# on the CI machine or inside the chroot tests/package/run.sh makes.
#
# usage: installed.sh DEB MAILCHECK_PY
#
# apt-get installs the package with its dependencies; the master starts
# as the unit's ExecStart says (no systemd here); a mailbox is
# provisioned, gets a message on port 25 and reads it over IMAPS on 993;
# only the master runs as root and the store is vmail's.  The package is
# installed again (the maintainer scripts must be safe to run twice),
# removed (configuration, queue and store stay) and purged (nothing
# stays but the users ispmail and vmail, as Debian leaves system users).
# Any failure stops it with "installed: FAIL: reason" and exit 1.
set -eu
deb=$1
mailcheck=$2
unit=/lib/systemd/system/ispmail.service
ctl="ispmailctl -c /etc/ispmail"
master_pid=""

fail() {
	echo "installed: FAIL: $*" >&2
	[ -f /var/tmp/ispmail-master.log ] && tail -n 30 /var/tmp/ispmail-master.log >&2
	exit 1
}
step() { echo "installed: $*"; }

stop_master() {
	[ -n "$master_pid" ] || return 0
	kill -TERM "$master_pid" 2>/dev/null || true
	i=0
	while kill -0 "$master_pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 150 ] || { kill -KILL "$master_pid"; fail "the master did not stop in 30s"; }
		sleep 0.2
	done
	master_pid=""
}
trap 'stop_master' EXIT

export DEBIAN_FRONTEND=noninteractive
step "installing $deb with apt-get"
apt-get install -y -q --no-install-recommends "$deb" >/var/tmp/ispmail-apt.log 2>&1 \
    || { tail -n 30 /var/tmp/ispmail-apt.log >&2; fail "apt-get install $deb"; }
dpkg-query -W -f='${Status}\n' ispmail | grep -q "install ok installed" \
    || fail "ispmail is not installed after apt-get install"
step "installing it again (maintainer scripts run twice)"
dpkg -i "$deb" >/var/tmp/ispmail-apt.log 2>&1 \
    || { tail -n 30 /var/tmp/ispmail-apt.log >&2; fail "dpkg -i $deb a second time"; }

for u in ispmail vmail; do
	getent passwd "$u" >/dev/null || fail "the package did not create user $u"
	[ "$(id -u "$u")" -ne 0 ] || fail "user $u has uid 0"
done
for f in /etc/ispmail/main.conf /etc/ispmail/master.conf; do
	grep -qx "$f" /var/lib/dpkg/info/ispmail.conffiles || fail "$f is not a conffile"
done
[ "$(stat -c '%U:%G %a' /etc/ispmail/routes)" = "root:ispmail 640" ] \
    || fail "/etc/ispmail/routes is $(stat -c '%U:%G %a' /etc/ispmail/routes), not root:ispmail 640"
[ "$(stat -c %U /var/lib/ispmail/mail)" = vmail ] || fail "/var/lib/ispmail/mail is not vmail's"

# The unit's ExecStartPre and ExecStart, run as systemd would run them.
pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
start=$(sed -n 's/^ExecStart=//p' "$unit")
[ -n "$start" ] || fail "no ExecStart in $unit"
step "ExecStartPre: $pre"
$pre || fail "ExecStartPre ($pre) failed"
step "ExecStart: $start"
$start >/var/tmp/ispmail-master.log 2>&1 &
master_pid=$!
i=0
until $ctl status >/dev/null 2>&1; do
	i=$((i + 1))
	kill -0 "$master_pid" 2>/dev/null || fail "the master exited at start"
	[ $i -lt 100 ] || fail "the master's status socket did not answer in 20s"
	sleep 0.2
done

step "provisioning user@example.test"
$ctl domain add example.test local >/dev/null || fail "ispmailctl domain add"
password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" | $ctl mailbox add user@example.test --password-stdin \
    >/dev/null || fail "ispmailctl mailbox add"
maildir=/var/lib/ispmail/mail/example.test/user
[ -d "$maildir" ] || fail "no Maildir at $maildir after mailbox add"

step "SMTP on 25 in, IMAPS on 993 out"
python3 "$mailcheck" user@example.test "$password" "$maildir" || fail "mail round trip"

step "sendmail: an ordinary user's mail through /usr/sbin/sendmail"
[ "$(readlink -f /usr/lib/sendmail)" = "$(readlink -f /usr/sbin/ispmail-sendmail)" ] \
    || fail "/usr/lib/sendmail is not ispmail-sendmail"
token=ispmail-package-sendmail-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
printf 'Subject: %s\n\nfrom a local user\n' "$token" | \
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
    /usr/sbin/sendmail -i user@example.test || fail "sendmail as nobody exited $?"
i=0
until grep -rqs "$token" "$maildir/new" "$maildir/cur"; do
	i=$((i + 1))
	[ $i -lt 150 ] || fail "the mail sendmail sent did not arrive in 30s"
	sleep 0.2
done
grep -rqs "from local user nobody uid" "$maildir/new" "$maildir/cur" \
    || fail "the Received: field does not name the local user"

step "privileges"
children=$(ps -o user=,pid=,args= --ppid "$master_pid")
echo "$children" | sed 's/^/installed:   /'
[ -n "$children" ] || fail "the master has no child processes"
[ "$(ps -o user= -p "$master_pid" | tr -d ' ')" = root ] || fail "the master does not run as root"
# Every process below the master (children and their children).
roots=$(ps -eo user=,pid=,ppid=,args= | awk -v top="$master_pid" '
	{ user[$2] = $1; parent[$2] = $3; line[$2] = $0 }
	END { for (p in parent) { q = parent[p]; while (q != "" && q != top && q in parent) q = parent[q];
	      if (q == top && user[p] == "root") print line[p] } }')
[ -z "$roots" ] || fail "processes below the master run as root: $roots"
# ispmailctl makes the domain's directory as its caller (store.c: only
# the mailbox is chowned); the mailboxes and all in them are vmail's.
bad=$(find /var/lib/ispmail/mail -mindepth 2 ! -user vmail -print | head -n 5)
[ -z "$bad" ] || fail "store files not owned by vmail: $bad"
[ "$(stat -c %U "$maildir/new")" = vmail ] || fail "$maildir/new is not vmail's"

step "stopping the master"
stop_master

step "dpkg --remove: configuration, queue and store stay"
dpkg --remove ispmail >/var/tmp/ispmail-apt.log 2>&1 || fail "dpkg --remove ispmail"
[ ! -e /usr/sbin/ispmail-master ] || fail "/usr/sbin/ispmail-master is left after remove"
for f in /etc/ispmail/main.conf /etc/ispmail/master.conf /etc/ispmail/routes \
    /var/spool/ispmail "$maildir"; do
	[ -e "$f" ] || fail "$f is gone after remove (only purge removes it)"
done

step "dpkg --purge: nothing stays"
dpkg --purge ispmail >/var/tmp/ispmail-apt.log 2>&1 || fail "dpkg --purge ispmail"
for f in /etc/ispmail /var/spool/ispmail /var/lib/ispmail /usr/libexec/ispmail \
    /usr/share/doc/ispmail "$unit" /var/lib/dpkg/info/ispmail.list; do
	[ ! -e "$f" ] || fail "$f is left after purge"
done
left=$(ps -eo user=,args= | awk '$1 == "ispmail" || $1 == "vmail"')
[ -z "$left" ] || fail "processes of ispmail or vmail are left: $left"
step "the users stay, as Debian leaves system users: $(getent passwd ispmail vmail | cut -d: -f1 | tr '\n' ' ')"
rm -f /var/tmp/ispmail-master.log /var/tmp/ispmail-apt.log
step "OK"
