#!/bin/sh
# ispmail quick start: install the build dependencies, build, install into
# a folder of its own and start a single-host instance on loopback ports.
# Run by an ordinary user, everything runs as that user.  Run by root,
# only the master stays root: the daemons run as the system users ispmail
# (queue, SMTP, delivery) and vmail (the mailbox store, lmtpd, popd,
# imapd), which it creates, as the packages do.  Run it again to rebuild
# and restart.  Everything lives under $ISPMAIL_QUICKSTART (default:
# ./quickstart; as root, /var/lib/ispmail-quickstart when the source tree
# is somewhere those users cannot reach, such as /root): root/ (the
# installed programs), config/ (main.conf, master.conf, tls/), queue/,
# store/, ispmail.log.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

# 0 when every directory from / down to $1 lets others through.
reachable_by_others() {
	dir=$1
	while [ "$dir" != / ] && [ -n "$dir" ]; do
		[ "$(($(stat -c %#a "$dir") & 1))" -eq 1 ] || return 1
		dir=$(dirname "$dir")
	done
	return 0
}

as_root=""
[ "$(id -u)" -eq 0 ] && as_root=yes
qs=${ISPMAIL_QUICKSTART:-$top/quickstart}
if [ -n "$as_root" ] && [ -z "${ISPMAIL_QUICKSTART:-}" ] \
    && ! reachable_by_others "$top"; then
	qs=/var/lib/ispmail-quickstart
	echo "quickstart: $top is not reachable by the users ispmail and vmail: using $qs"
fi
mkdir -p "$qs"
qs=$(cd "$qs" && pwd)

sh "$top/scripts/install-deps.sh"

echo "quickstart: building"
cd "$top"
[ -x configure ] || autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] || ../configure -q --prefix="$qs/root"
make -s -j2
make -s install >/dev/null

cfg="$qs/config"
queue="$qs/queue"
store="$qs/store"
mkdir -p "$cfg/tls" "$queue" "$store"
if [ -n "$as_root" ]; then
	# The users of the packages (useradd: minimal Debian has no adduser).
	for u in ispmail vmail; do
		getent passwd "$u" >/dev/null || useradd --system --user-group \
		    --home-dir /nonexistent --no-create-home \
		    --shell /usr/sbin/nologin "$u"
	done
	# vmail's lmtpd, popd and imapd read the routing map (ispmail's group).
	usermod -a -G ispmail vmail
	mail_owner=ispmail
	store_owner=vmail
	# The daemons read the configuration after they switch users.
	chmod 755 "$qs" "$qs/root" "$cfg"
	chown vmail:vmail "$store"
	chmod 750 "$store"
else
	mail_owner=$(id -un)
	store_owner=$mail_owner
fi

# A previous quick-start master is stopped first.
pidfile="$queue/pid/master.pid"
if [ -f "$pidfile" ] && kill -0 "$(head -n 1 "$pidfile")" 2>/dev/null; then
	echo "quickstart: stopping the running instance"
	kill "$(head -n 1 "$pidfile")"
	i=0
	while [ -f "$pidfile" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
fi

if [ ! -f "$cfg/tls/cert.pem" ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
	    -keyout "$cfg/tls/key.pem" -out "$cfg/tls/cert.pem" 2>/dev/null
	chmod 600 "$cfg/tls/key.pem"
fi
if [ -n "$as_root" ]; then
	# The key for the daemons only: root and the group ispmail (0640).
	chgrp ispmail "$cfg/tls/key.pem"
	chmod 640 "$cfg/tls/key.pem"
	chmod 750 "$cfg/tls"
	chgrp ispmail "$cfg/tls"
fi

cat > "$cfg/main.conf" <<CONF
# ispmail quick-start instance (written by scripts/quickstart.sh).
# Every parameter: main.conf(5); effective values: ispmailctl -c $cfg config
config_directory = $cfg
queue_directory = $queue
daemon_directory = $qs/root/libexec/ispmail
mail_owner = $mail_owner
myhostname = localhost
syslog_name = ispmail-quickstart
# The foreground master logs to this file: ispmailctl trace reads it.
maillog_file = $qs/ispmail.log
route_backend = file
route_file = $cfg/routes
store_root = $store
store_owner = $store_owner
tls_cert_file = $cfg/tls/cert.pem
tls_key_file = $cfg/tls/key.pem
# lmtpd listens on private/lmtpd, where lmtp_local_nexthop's default finds it.
CONF

# user "-" is mail_owner; the store's programs run as store_owner.
cat > "$cfg/master.conf" <<CONF
# ispmail quick-start services (written by scripts/quickstart.sh).
# Format: master.conf(5).  Passwords are taken only over TLS (STARTTLS or
# the implicit-TLS ports), as on a production host.
# service    type  listen          user  maxproc  command
smtp         inet  127.0.0.1:2525  -     20  smtpd -o smtpd_mode=mx
submission   inet  127.0.0.1:2587  -     10  smtpd -o smtpd_mode=submission
smtps        inet  127.0.0.1:2465  -     10  smtpd -o smtpd_mode=submission
    -o tls_wrapper_mode=yes
sendmail     unix  public/sendmail -    10  smtpd -o smtpd_mode=submission
qmgr         unix  private/qmgr    -     1   qmgr -o service_keep_running=yes
anvil        unix  private/anvil   -     1   anvil -o service_keep_running=yes
auth         unix  private/auth    -     8   authd
lmtp         unix  private/lmtp    -     10  smtp
smtp-out     unix  private/smtp    -     20  smtp
lmtpd        unix  private/lmtpd   $store_owner 10  lmtpd
pop3         inet  127.0.0.1:2110  $store_owner 20  popd
pop3s        inet  127.0.0.1:2995  $store_owner 20  popd -o tls_wrapper_mode=yes
imap         inet  127.0.0.1:2143  $store_owner 20  imapd
imaps        inet  127.0.0.1:2993  $store_owner 20  imapd -o tls_wrapper_mode=yes
CONF

"$qs/root/sbin/ispmail-master" -t -c "$cfg"
nohup "$qs/root/sbin/ispmail-master" -f -c "$cfg" >>"$qs/ispmail.log" 2>&1 &
i=0
until "$qs/root/sbin/ispmailctl" -c "$cfg" status >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 50 ]; then
		echo "quickstart: the master did not start; see $qs/ispmail.log" >&2
		tail -n 20 "$qs/ispmail.log" >&2
		exit 1
	fi
	sleep 0.2
done

ctl="$qs/root/sbin/ispmailctl -c $cfg"

# The sample domain and mailbox (kept when they exist already).
if [ ! -f "$cfg/routes" ]; then
	: > "$cfg/routes"
	chmod 640 "$cfg/routes"
	# ispmailctl keeps the map's owner and mode when it rewrites it.
	[ -z "$as_root" ] || chgrp ispmail "$cfg/routes"
fi
password_file="$qs/sample-password"
if ! $ctl domain show example.test >/dev/null 2>&1; then
	$ctl domain add example.test local >/dev/null
fi
if ! $ctl mailbox show user@example.test >/dev/null 2>&1; then
	openssl rand -base64 12 | tr -d '/+=\n' > "$password_file"
	chmod 600 "$password_file"
	$ctl mailbox add user@example.test --password-stdin \
	    < "$password_file" >/dev/null
fi
password=$(cat "$password_file")

# Prove the path works: a welcome message through SMTP into the mailbox.
swaks --silent 2 --server 127.0.0.1 --port 2525 --from postmaster@example.test \
    --to user@example.test --header "Subject: Welcome to ispmail" \
    --body "This message came in over SMTP and was delivered by qmgr and lmtpd." \
    >/dev/null 2>&1 || echo "quickstart: warning: sending the welcome message failed" >&2
i=0
until [ -n "$(ls "$store/example.test/user/new" "$store/example.test/user/cur" 2>/dev/null | grep -v ':$' | grep -v '^$')" ]; do
	i=$((i + 1))
	if [ $i -gt 50 ]; then
		echo "quickstart: warning: the welcome message was not delivered yet; see $qs/ispmail.log" >&2
		break
	fi
	sleep 0.2
done

cat <<MSG

ispmail is running (configuration $cfg, log $qs/ispmail.log).

  sample mailbox: user@example.test, password $password
                  (store $store/example.test/user; a welcome message is in it)

  send it mail (SMTP, port 2525):
    swaks --server 127.0.0.1 --port 2525 --to user@example.test
  send as the user (submission with STARTTLS and AUTH, port 2587):
    swaks --server 127.0.0.1 --port 2587 --tls --auth PLAIN \\
      --auth-user user@example.test --auth-password '$password' \\
      --from user@example.test --to user@example.test
  send as a program on this host does (the sendmail command line):
    printf 'Subject: hello\\n\\nfrom a script\\n' | \\
      $qs/root/sbin/ispmail-sendmail -C $cfg -i user@example.test
  read it back (POP3 over TLS, port 2995; IMAP over TLS, port 2993):
    curl -k -u 'user@example.test:$password' pop3s://127.0.0.1:2995/1
    curl -k -u 'user@example.test:$password' 'imaps://127.0.0.1:2993/INBOX;UID=1'
  the queue:      $ctl queue list
  how it routes:  $ctl route user@example.test
  status:   $ctl status
  settings: $ctl config -n
  stop:     kill \$(head -n 1 $pidfile)
  man:      mandoc -a $qs/root/share/man/man8/smtpd.8   (and qmgr.8, lmtpd.8, popd.8, imapd.8, ...)

MSG
$ctl status
