#!/bin/sh
# ispmail quick start: install the build dependencies, build, install into
# a folder of its own and start a single-host instance on loopback ports,
# as the ordinary user who runs it (or root).  Run it again to rebuild and
# restart.  Everything lives under $ISPMAIL_QUICKSTART (default:
# ./quickstart): root/ (the installed programs), config/ (main.conf,
# master.conf, tls/), queue/, store/, ispmail.log.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
qs=${ISPMAIL_QUICKSTART:-$top/quickstart}
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
user=$(id -un)

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

cat > "$cfg/main.conf" <<CONF
# ispmail quick-start instance (written by scripts/quickstart.sh).
# Every parameter: main.conf(5); effective values: ispmailctl -c $cfg config
config_directory = $cfg
queue_directory = $queue
daemon_directory = $qs/root/libexec/ispmail
mail_owner = $user
myhostname = localhost
syslog_name = ispmail-quickstart
route_backend = file
route_file = $cfg/routes
store_root = $store
store_owner = $user
CONF

cat > "$cfg/master.conf" <<CONF
# ispmail quick-start services (written by scripts/quickstart.sh).
# Format: master.conf(5).  The daemons of later releases listen on
# 127.0.0.1: SMTP 2525, submission 2587, SMTPS 2465, LMTP 2424, POP3 2110,
# POP3S 2995, IMAP 2143, IMAPS 2993.
# service  type  listen  user  maxproc  command
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
[ -f "$cfg/routes" ] || : > "$cfg/routes"
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

cat <<MSG

ispmail is running (configuration $cfg, log $qs/ispmail.log).

  sample mailbox: user@example.test, password $password
                  (store $store/example.test/user)
  how it routes:  $ctl route user@example.test
  check a login:  echo '$password' | $ctl auth user@example.test
  status:   $ctl status
  settings: $ctl config -n
  stop:     kill \$(head -n 1 $pidfile)
  man:      man -l $top/man/ispmail-master.8

MSG
$ctl status
