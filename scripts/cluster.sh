#!/bin/sh
# ispmail on several hosts, on one machine: every host a network namespace
# (ispmail-roles(7)).  Run as root.
#
#   sh scripts/cluster.sh up               build, provision, print how to use it
#   sh scripts/cluster.sh down             remove everything (also after a failure)
#   sh scripts/cluster.sh status           each host: running, stopped, partitioned
#   sh scripts/cluster.sh kill HOST        kill -9 every process of the host
#   sh scripts/cluster.sh stop HOST        stop it cleanly (SIGTERM)
#   sh scripts/cluster.sh start HOST       start it again
#   sh scripts/cluster.sh partition HOST   drop its packets (nothing refused)
#   sh scripts/cluster.sh heal HOST        undo partition
#   sh scripts/cluster.sh ctl ARGS...      ispmailctl against the provider
#   sh scripts/cluster.sh exec HOST CMD... run a command in the host's namespace
#
# Hosts (namespace PREFIX-HOST, address 192.0.2.N and 2001:db8::N on one
# bridge, PREFIX-br): dns (.53, dnsmasq: the MX records), ldap1 (.11, the
# directory's syncrepl provider), ldap2 (.12, its consumer), mx1 (.21) and
# mx2 (.22) (role mx, equal MX preference), out1 (.31, role out), store1
# (.41) and store2 (.42) (role store, one shared store directory), proxy1
# (.51) and proxy2 (.52) (role proxy, both behind the name
# proxy.cluster.test: two A and two AAAA records; a client tries the
# other address when one refuses) and inet (.100: the Internet, a small
# ispmail instance
# that sends customers mail through their MX records and receives their
# outbound mail for remote.test).  Every ispmail host listens on its
# IPv4 and its IPv6 address; DNS has A and AAAA records for every host
# name and the MX hosts.  The role configuration comes from
# conf/roles, rendered for each host, with short timeouts so failures show
# fast.
#
# Environment: ISPMAIL_CLUSTER_DIR (the state: configurations, queues,
# the store, logs, cluster.env; default /var/tmp/ispmail-cluster),
# ISPMAIL_CLUSTER_PREFIX (namespace and link names, at most 6 characters;
# default ispm), ISPMAIL_BUILDDIR (the build tree whose programs run;
# default ./_build, else ./build) or ISPMAIL_PREFIX (an install prefix
# instead).  Needs ip (iproute2), nft (nftables), dnsmasq, slapd and
# ldap-utils, openssl.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
STATE=${ISPMAIL_CLUSTER_DIR:-/var/tmp/ispmail-cluster}
P=${ISPMAIL_CLUSTER_PREFIX:-ispm}
HOSTS="dns ldap1 ldap2 store1 store2 mx1 mx2 out1 proxy1 proxy2 inet"
NET4=192.0.2
NET6=2001:db8:
BASE_DN="dc=ispmail,dc=test"
ROOT_DN="cn=admin,$BASE_DN"
SERVICE_DN="cn=ispmail,$BASE_DN"
DOMAINS="a.test b.test"
REMOTE_DOMAIN=remote.test

die() {
	echo "cluster: $*" >&2
	exit 1
}

[ ${#P} -le 6 ] || die "ISPMAIL_CLUSTER_PREFIX \"$P\" is longer than 6 characters"

if [ -n "${ISPMAIL_PREFIX:-}" ]; then
	MASTER=$ISPMAIL_PREFIX/sbin/ispmail-master
	CTL=$ISPMAIL_PREFIX/sbin/ispmailctl
	LIBEXEC=$ISPMAIL_PREFIX/libexec/ispmail
else
	B=${ISPMAIL_BUILDDIR:-}
	if [ -z "$B" ]; then
		B=$top/_build
		[ -x "$B/master/ispmail-master" ] || B=$top/build
	fi
	MASTER=$B/master/ispmail-master
	CTL=$B/tools/ispmailctl
	LIBEXEC=$STATE/libexec
fi

addr_of() {
	case $1 in
	dns) echo 53 ;; ldap1) echo 11 ;; ldap2) echo 12 ;;
	mx1) echo 21 ;; mx2) echo 22 ;; out1) echo 31 ;;
	store1) echo 41 ;; store2) echo 42 ;; proxy1) echo 51 ;;
	proxy2) echo 52 ;; inet) echo 100 ;;
	*) die "unknown host \"$1\" (one of: $HOSTS)" ;;
	esac
}

role_of() {
	case $1 in
	mx*) echo mx ;; out*) echo out ;; store*) echo store ;;
	proxy*) echo proxy ;; *) echo "$1" ;;
	esac
}

ns() {
	echo "$P-$1"
}

in_ns() {
	host=$1
	shift
	ip netns exec "$(ns "$host")" "$@"
}

# ---- preconditions ----------------------------------------------------------

need_tools() {
	[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces)"
	for prog in ip nft dnsmasq slapd slapadd ldapsearch openssl setsid; do
		command -v "$prog" >/dev/null 2>&1 || [ -x "/usr/sbin/$prog" ] ||
		    die "$prog is missing: sh scripts/install-deps.sh installs it"
	done
	[ -x "$MASTER" ] || die "$MASTER is missing: build first (make) or set ISPMAIL_BUILDDIR"
	[ -x "$CTL" ] || die "$CTL is missing"
	ip netns list >/dev/null 2>&1 || die "network namespaces do not work here"
}

# ---- the network ------------------------------------------------------------

net_up() {
	ip link add "$P-br" type bridge
	# The bridge is a switch, not a host: this machine's own addresses
	# (which may lie in 192.0.2.0/24 too) must not answer ARP or
	# neighbour discovery on it.
	sysctl -qw "net.ipv4.conf.$P-br.arp_ignore=1"
	sysctl -qw "net.ipv6.conf.$P-br.disable_ipv6=1"
	ip link set "$P-br" up
	for h in $HOSTS; do
		n=$(addr_of "$h")
		ip netns add "$P-$h"
		ip link add "$P-$h" type veth peer name eth0 netns "$P-$h"
		ip link set "$P-$h" master "$P-br" up
		ip -n "$P-$h" link set lo up
		ip -n "$P-$h" addr add "$NET4.$n/24" dev eth0
		ip -n "$P-$h" -6 addr add "$NET6:$n/64" dev eth0 nodad
		ip -n "$P-$h" link set eth0 up
	done
}

net_down() {
	for h in $HOSTS; do
		ip netns del "$(ns "$h")" 2>/dev/null || true
		ip link del "$P-$h" 2>/dev/null || true
	done
	ip link del "$P-br" 2>/dev/null || true
}

# ---- processes --------------------------------------------------------------

host_pids() {
	ip netns pids "$(ns "$1")" 2>/dev/null || true
}

host_running() {
	[ -n "$(host_pids "$1")" ]
}

kill_host() {
	pids=$(host_pids "$1")
	[ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
	i=0
	while host_running "$1" && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

stop_host() {
	h=$1
	pidfile=$STATE/hosts/$h/run.pid
	if [ -f "$pidfile" ]; then
		kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
		i=0
		while host_running "$h" && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
	fi
	kill_host "$h"
}

# Run a command in a host's namespace, in a session of its own, logging
# to the host's log; its pid goes to run.pid.
spawn() {
	h=$1
	shift
	setsid ip netns exec "$(ns "$h")" "$@" \
	    </dev/null >>"$STATE/hosts/$h/log" 2>&1 &
	echo $! >"$STATE/hosts/$h/run.pid"
}

wait_for() {
	what=$1
	shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || die "$what did not come up; see $STATE/hosts/*/log"
		sleep 0.1
	done
}

start_host() {
	h=$1
	host_running "$h" && return 0
	case $(role_of "$h") in
	dns)
		spawn "$h" dnsmasq --keep-in-foreground --conf-file="$STATE/hosts/dns/dnsmasq.conf"
		wait_for "dnsmasq" in_ns dns sh -c "ss -lnu | grep -q '$NET4.53:53 '" ;;
	ldap1|ldap2)
		spawn "$h" /usr/sbin/slapd -h "ldap://$NET4.$(addr_of "$h")/" \
		    -F "$STATE/hosts/$h/slapd.d" -u openldap -g openldap -d 256
		wait_for "slapd on $h" in_ns "$h" ldapsearch -x -LLL \
		    -H "ldap://$NET4.$(addr_of "$h")/" -s base -b "" namingContexts ;;
	*)
		cfg=$STATE/hosts/$h/config
		"$MASTER" -t -c "$cfg" >>"$STATE/hosts/$h/log" 2>&1 ||
		    die "$cfg: the configuration check failed; see $STATE/hosts/$h/log"
		spawn "$h" "$MASTER" -f -c "$cfg"
		wait_for "ispmail-master on $h" "$CTL" -c "$cfg" status ;;
	esac
}

# ---- configuration ----------------------------------------------------------

make_users() {
	for u in ispmail vmail; do
		getent passwd "$u" >/dev/null || useradd --system --user-group \
		    --home-dir /nonexistent --no-create-home \
		    --shell /usr/sbin/nologin "$u"
	done
	# vmail's daemons read the directory password (group ispmail).
	usermod -a -G ispmail vmail
}

make_libexec() {
	[ -n "${ISPMAIL_PREFIX:-}" ] && return 0
	mkdir -p "$LIBEXEC"
	for prog in smtpd/smtpd qmgr/qmgr smtp/smtp lmtpd/lmtpd popd/popd \
	    imapd/imapd anvil/anvil auth/authd proxyd/proxyd; do
		[ -x "$B/$prog" ] || die "$B/$prog is missing: build first"
		ln -sf "$B/$prog" "$LIBEXEC/$(basename "$prog")"
	done
}

make_tls() {
	mkdir -p "$STATE/tls"
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
	    -subj "/CN=$PROXY_NAME" \
	    -addext "subjectAltName=DNS:$PROXY_NAME,DNS:proxy1.cluster.test,DNS:proxy2.cluster.test,IP:$NET4.51,IP:$NET4.52,IP:$NET6:51,IP:$NET6:52" \
	    -keyout "$STATE/tls/key.pem" -out "$STATE/tls/cert.pem" 2>/dev/null
	chgrp ispmail "$STATE/tls/key.pem"
	chmod 640 "$STATE/tls/key.pem"
}

# The site's values, the same for every host.
MX_NETS="$NET4.21 $NET4.22"
OUT_NETS="$NET4.31"
PROXY_NETS="$NET4.51 $NET4.52 $NET6:51 $NET6:52"
# The name the customers' mail clients use: both proxy hosts.
PROXY_NAME=proxy.cluster.test
LDAP_URIS="ldap://$NET4.12/ ldap://$NET4.11/"

# A host's role configuration, rendered: the role's files with the
# site's values for the @WORDS@ (conf/roles/README).
render() {
	h=$1 file=$2 n=$3
	digest=$(tr -d '\n' <"$STATE/proxy.token" | sha256sum | cut -d' ' -f1)
	sed -e "s|@HOSTNAME@|$h.cluster.test|g" \
	    -e "s|@ADDR@|$NET4.$n|g" \
	    -e "s|@LDAP_URIS@|$LDAP_URIS|g" \
	    -e "s|@MX_NETS@|$MX_NETS|g" \
	    -e "s|@OUT_NETS@|$OUT_NETS|g" \
	    -e "s|@OUT_HOSTS@|$NET4.31|g" \
	    -e "s|@PROXY_NETS@|$PROXY_NETS|g" \
	    -e "s|@STORE_NAMES@|$NET4.$n [$NET6:$n]|g" \
	    -e "s|@RELAYHOST@|[$NET4.31]:587|g" \
	    -e "s|@PROXY_TOKEN_FILE@|$STATE/proxy.token|g" \
	    -e "s|@PROXY_TOKEN_DIGESTS@|$digest|g" \
	    "$top/conf/roles/$role/$file"
}

# What every ispmail host of the cluster shares, then the short timeouts
# that make failures show within seconds (ispmail-roles(7)).
common_main_conf() {
	h=$1
	cat <<CONF
# ispmail cluster host $h (written by scripts/cluster.sh); main.conf(5).
config_directory = $STATE/hosts/$h/config
queue_directory = $STATE/hosts/$h/queue
daemon_directory = $LIBEXEC
mail_owner = ispmail
store_owner = vmail
store_root = $STATE/store
syslog_name = ispmail-$h
ldap_base_dn = $BASE_DN
ldap_bind_dn = $SERVICE_DN
ldap_bind_password_file = $STATE/ldap.secret
dns_servers = $NET4.53
tls_cert_file = $STATE/tls/cert.pem
tls_key_file = $STATE/tls/key.pem
inet_protocols = all
CONF
}

cluster_timeouts() {
	cat <<CONF
# --- the cluster's short timeouts (scripts/cluster.sh) ---
ldap_connect_timeout = 1s
ldap_search_timeout = 2s
ldap_cache_positive_ttl = 2s
ldap_cache_negative_ttl = 1s
dns_timeout = 1s
dns_tries = 1
smtp_connect_timeout = 2s
smtp_command_timeout = 10s
smtp_data_timeout = 20s
smtp_connection_cache_time = 2s
qmgr_agent_timeout = 30s
queue_run_delay = 2s
minimal_backoff = 2s
maximal_backoff = 8s
proxy_connect_timeout = 4s
proxy_host_down_time = 3s
proxy_auth_timeout = 10s
lmtp_lock_timeout = 5s
lmtp_timeout = 30s
smtpd_timeout = 30s
service_throttle_time = 1s
master_stop_timeout = 3s
max_idle = 30s
CONF
}

config_ispmail_host() {
	h=$1
	n=$(addr_of "$h")
	role=$(role_of "$h")
	d=$STATE/hosts/$h
	mkdir -p "$d/config" "$d/queue"
	{
		common_main_conf "$h"
		echo "# --- role $role (conf/roles/$role/main.conf) ---"
		render "$h" main.conf "$n"
		cluster_timeouts
	} >"$d/config/main.conf"
	render "$h" master.conf "$n" | dual_stack "$n" >"$d/config/master.conf"
}

# Every inet service of a rendered master.conf again on the host's IPv6
# address: the same line (and its continuation lines), the service name
# with "6" appended, listening on [2001:db8::N]:port.
dual_stack() {
	awk -v v4="$NET4.$1" -v v6="[$NET6:$1]" '
	function flush() {
		if (svc != "") print svc
		svc = ""
	}
	/^[ \t]/ && svc != "" { print; svc = svc "\n" $0; next }
	{ flush() }
	$2 == "inet" && index($3, v4 ":") == 1 {
		print
		line = $0
		sub(/^[^ \t]+/, $1 "6", line)
		sub(v4 ":", v6 ":", line)
		svc = line
		next
	}
	{ print }
	END { flush() }'
}

# inet: a small ispmail instance of its own (file routing), the Internet.
config_inet() {
	d=$STATE/hosts/inet
	mkdir -p "$d/config" "$d/queue" "$d/store"
	chown vmail:vmail "$d/store"
	cat >"$d/config/main.conf" <<CONF
# The cluster's Internet (written by scripts/cluster.sh): relays for the
# client on this host to the customers' MX hosts, receives $REMOTE_DOMAIN.
config_directory = $d/config
queue_directory = $d/queue
daemon_directory = $LIBEXEC
mail_owner = ispmail
store_owner = vmail
store_root = $d/store
syslog_name = ispmail-inet
myhostname = inet.cluster.test
route_backend = file
route_file = $d/config/routes
mynetworks = 127.0.0.0/8 $NET4.100
dns_servers = $NET4.53
inet_protocols = ipv4
smtp_tls_security_level = none
tls_cert_file = $STATE/tls/cert.pem
tls_key_file = $STATE/tls/key.pem
CONF
	cluster_timeouts | grep -v '^ldap_' >>"$d/config/main.conf"
	cat >"$d/config/master.conf" <<CONF
# The cluster's Internet (written by scripts/cluster.sh).
smtp        inet  $NET4.100:25    -      20  smtpd -o smtpd_mode=mx
smtp-lo     inet  127.0.0.1:25    -      20  smtpd -o smtpd_mode=mx
qmgr        unix  private/qmgr    -      1   qmgr -o service_keep_running=yes
anvil       unix  private/anvil   -      1   anvil -o service_keep_running=yes
lmtp        unix  private/lmtp    -      10  smtp
smtp-out    unix  private/smtp    -      20  smtp
lmtpd       unix  private/lmtpd   vmail  10  lmtpd
CONF
	: >"$d/config/routes"
	chgrp ispmail "$d/config/routes"
	chmod 640 "$d/config/routes"
}

config_dns() {
	d=$STATE/hosts/dns
	mkdir -p "$d"
	{
		echo "# The cluster's DNS (written by scripts/cluster.sh)."
		echo "no-resolv"
		echo "no-hosts"
		echo "bind-interfaces"
		echo "listen-address=$NET4.53"
		echo "local=/test/"
		echo "log-facility=-"
		echo "pid-file=$d/dnsmasq.pid"
		for h in $HOSTS; do
			n=$(addr_of "$h")
			echo "host-record=$h.cluster.test,$NET4.$n,$NET6:$n"
		done
		# The proxy tier behind one name: every address of both.
		echo "host-record=$PROXY_NAME,$NET4.51,$NET6:51"
		echo "host-record=$PROXY_NAME,$NET4.52,$NET6:52"
		# Equal preference: senders spread over both MX hosts and
		# take the other when one does not answer (RFC 5321 5.1).
		for dom in $DOMAINS; do
			echo "mx-host=$dom,mx1.cluster.test,10"
			echo "mx-host=$dom,mx2.cluster.test,10"
		done
		echo "mx-host=$REMOTE_DOMAIN,inet.cluster.test,10"
	} >"$d/dnsmasq.conf"
}

# slapd cn=config for ldap1 (provider) or ldap2 (consumer), after
# conf/roles/directory/{provider,consumer}.ldif.
slapd_config_ldif() {
	h=$1
	d=$STATE/hosts/$h
	modules="olcModuleLoad: back_mdb"
	[ "$h" = ldap1 ] && modules="$modules
olcModuleLoad: syncprov"
	cat <<LDIF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $d/run/slapd.pid

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
$modules

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

LDIF
	for s in core cosine inetorgperson misc; do
		grep -v '^#' "/etc/ldap/schema/$s.ldif"
		echo
	done
	grep -v '^#' "$top/conf/ispmail.ldif"
	echo
	cat <<LDIF
dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $BASE_DN
olcDbDirectory: $d/db
olcDbMaxSize: 268435456
olcRootDN: $ROOT_DN
olcRootPW: $(cat "$STATE/ldap.rootpw")
olcDbIndex: objectClass eq
olcDbIndex: mail eq
olcDbIndex: mailLocalAddress eq
olcDbIndex: ispmailDomainName eq
olcDbIndex: entryCSN eq
olcDbIndex: entryUUID eq
olcAccess: {0}to attrs=userPassword by dn.exact="$SERVICE_DN" write by anonymous auth by * none
olcAccess: {1}to * by dn.exact="$SERVICE_DN" write by * none
olcLimits: {0}dn.exact="$SERVICE_DN" size=unlimited time=unlimited
LDIF
	if [ "$h" = ldap2 ]; then
		cat <<LDIF
olcSyncrepl: {0}rid=001 provider=ldap://$NET4.11/ bindmethod=simple
  binddn="$ROOT_DN" credentials=$(cat "$STATE/ldap.rootpw")
  searchbase="$BASE_DN" type=refreshAndPersist retry="1 +"
  timeout=2 network-timeout=2
olcUpdateRef: ldap://$NET4.11/
LDIF
	else
		cat <<LDIF

dn: olcOverlay=syncprov,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: syncprov
olcSpCheckpoint: 100 10
olcSpSessionLog: 10000
LDIF
	fi
}

config_ldap() {
	h=$1
	d=$STATE/hosts/$h
	mkdir -p "$d/slapd.d" "$d/db" "$d/run"
	slapd_config_ldif "$h" >"$d/config.ldif"
	slapadd -F "$d/slapd.d" -n0 -l "$d/config.ldif" -q
	if [ "$h" = ldap1 ]; then
		cat >"$d/base.ldif" <<LDIF
dn: $BASE_DN
objectClass: domain
dc: ispmail

dn: $SERVICE_DN
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: ispmail
userPassword: $(cat "$STATE/ldap.secret")
LDIF
		slapadd -F "$d/slapd.d" -b "$BASE_DN" -l "$d/base.ldif"
	fi
	chown -R openldap:openldap "$d/slapd.d" "$d/db" "$d/run"
	chmod 755 "$d"
}

# The provisioning instance: ispmailctl writing to the provider.
config_provision() {
	d=$STATE/provision
	mkdir -p "$d"
	cat >"$d/main.conf" <<CONF
# Provisioning (written by scripts/cluster.sh): writes to the provider.
config_directory = $d
queue_directory = $STATE/hosts/ldap2/queue
route_backend = ldap
ldap_server_uris = ldap://$NET4.11/
ldap_base_dn = $BASE_DN
ldap_bind_dn = $SERVICE_DN
ldap_bind_password_file = $STATE/ldap.secret
ldap_connect_timeout = 2s
ldap_search_timeout = 2s
store_root = $STATE/store
store_owner = vmail
local_mail_hosts = $NET4.41 $NET4.42
CONF
	: >"$d/master.conf"
}

# ispmailctl against the provider, run on ldap2 (the admin's host).
ctl() {
	in_ns ldap2 "$CTL" -c "$STATE/provision" "$@"
}

provision() {
	pw=$(cat "$STATE/password")
	s1=$NET4.41
	s2=$NET4.42
	for dom in $DOMAINS; do
		ctl domain add "$dom" local >/dev/null
	done
	# Mailboxes on one store host, and on the pair (shared storage).
	for spec in "u1@a.test $s1" "u2@a.test $s1,$s2" "u3@b.test $s2" \
	    "u4@b.test $s2,$s1"; do
		set -- $spec
		echo "$pw" | ctl mailbox add "$1" "host=$2" --password-stdin >/dev/null
	done
	# The Internet's own mailbox, where outbound mail lands.
	ictl="$CTL -c $STATE/hosts/inet/config"
	$ictl domain add "$REMOTE_DOMAIN" local >/dev/null
	echo "$pw" | $ictl mailbox add "r1@$REMOTE_DOMAIN" --password-stdin >/dev/null
}

# Wait until the consumer holds what was provisioned.
wait_replica() {
	wait_for "replication to ldap2" in_ns ldap2 sh -c \
	    "ldapsearch -x -LLL -H ldap://$NET4.12/ -D '$SERVICE_DN' \
	    -y '$STATE/ldap.secret.nonl' -b '$BASE_DN' '(mail=u4@b.test)' mail |
	    grep -q u4@b.test"
}

write_env() {
	pw=$(cat "$STATE/password")
	{
		echo "# ispmail cluster (written by scripts/cluster.sh up)"
		echo "CLUSTER_DIR=$STATE"
		echo "CLUSTER_PREFIX=$P"
		echo "CLUSTER_HOSTS=\"$HOSTS\""
		echo "CLIENT_NS=$(ns inet)"
		echo "PROXY_NAME=$PROXY_NAME"
		for h in $HOSTS; do
			u=$(echo "$h" | tr a-z A-Z)
			echo "${u}_ADDR=$NET4.$(addr_of "$h")"
			echo "${u}_ADDR6=$NET6:$(addr_of "$h")"
			echo "${u}_NS=$(ns "$h")"
		done
		echo "DOMAINS=\"$DOMAINS\""
		echo "MAILBOXES=\"u1@a.test=$NET4.41 u2@a.test=$NET4.41,$NET4.42 u3@b.test=$NET4.42 u4@b.test=$NET4.42,$NET4.41\""
		echo "PASSWORD=$pw"
		echo "SAMPLE_MAILBOX=u2@a.test"
		echo "SAMPLE_PASSWORD=$pw"
		echo "SAMPLE_MAILDIR=$STATE/store/a.test/u2"
		echo "STORE_ROOT=$STATE/store"
		echo "REMOTE_MAILBOX=r1@$REMOTE_DOMAIN"
		echo "REMOTE_MAILDIR=$STATE/hosts/inet/store/$REMOTE_DOMAIN/r1"
		echo "TLS_CERT=$STATE/tls/cert.pem"
		echo "CTL=$CTL"
		echo "MASTER=$MASTER"
	} >"$STATE/cluster.env"
}

cmd_up() {
	need_tools
	if ip netns list | grep -q "^$P-"; then
		die "a cluster with prefix $P exists: sh $0 down first"
	fi
	rm -rf "$STATE"
	mkdir -p "$STATE/store"
	chmod 755 "$STATE"
	for h in $HOSTS; do
		mkdir -p "$STATE/hosts/$h"
	done
	make_users
	chown vmail:vmail "$STATE/store"
	chmod 750 "$STATE/store"
	openssl rand -hex 12 >"$STATE/ldap.rootpw"
	openssl rand -hex 12 | tr -d '\n' >"$STATE/ldap.secret.nonl"
	cp "$STATE/ldap.secret.nonl" "$STATE/ldap.secret"
	echo >>"$STATE/ldap.secret"
	chgrp ispmail "$STATE/ldap.secret" "$STATE/ldap.secret.nonl"
	chmod 640 "$STATE/ldap.secret" "$STATE/ldap.secret.nonl"
	chmod 600 "$STATE/ldap.rootpw"
	# The proxy tier's login token (proxyd(8)); the stores get its digest.
	openssl rand -hex 32 >"$STATE/proxy.token"
	chgrp ispmail "$STATE/proxy.token"
	chmod 640 "$STATE/proxy.token"
	openssl rand -base64 12 | tr -d '/+=\n' >"$STATE/password"
	chmod 600 "$STATE/password"
	make_libexec
	make_tls
	net_up
	config_dns
	config_ldap ldap1
	config_ldap ldap2
	for h in $HOSTS; do
		case $h in
		dns|ldap1|ldap2|inet) ;;
		*) config_ispmail_host "$h" ;;
		esac
	done
	config_inet
	config_provision
	# The ispmail hosts start at once (each master checks its
	# configuration and starts its services; that takes a moment).
	start_host dns
	start_host ldap1
	start_host ldap2
	pids=""
	for h in $HOSTS; do
		case $h in
		dns|ldap1|ldap2) ;;
		*) start_host "$h" & pids="$pids $!" ;;
		esac
	done
	for pid in $pids; do
		wait "$pid" || die "a host did not start; see $STATE/hosts/*/log"
	done
	provision
	wait_replica
	write_env
	pw=$(cat "$STATE/password")
	cat <<MSG

ispmail cluster is up (state $STATE, environment $STATE/cluster.env).

  hosts: $(for h in $HOSTS; do printf '%s=%s ' "$h" "$NET4.$(addr_of "$h")"; done)
  (and 2001:db8::N for 192.0.2.N; $PROXY_NAME is proxy1 and proxy2)
  mailboxes (password $pw):
    u1@a.test (store1)  u2@a.test (store1,store2)
    u3@b.test (store2)  u4@b.test (store2,store1)   r1@$REMOTE_DOMAIN (inet)

  send mail from the Internet (inet relays by the MX records to mx1/mx2):
    ip netns exec $P-inet swaks --server 127.0.0.1 --to u2@a.test
  read it through the proxy (IMAPS, self-signed certificate):
    ip netns exec $P-inet curl -k -u 'u2@a.test:$pw' 'imaps://$NET4.51/INBOX;UID=1'
  send as a customer (submission through proxy1 and out1 to the Internet):
    ip netns exec $P-inet swaks --server $NET4.51 --port 587 --tls \\
      --auth PLAIN --auth-user u2@a.test --auth-password '$pw' \\
      --from u2@a.test --to r1@$REMOTE_DOMAIN
  provision (writes to the provider ldap1):
    sh $0 ctl mailbox list a.test
  fail a host:  sh $0 kill|stop|start|partition|heal HOST
  status:       sh $0 status
  remove all:   sh $0 down
MSG
}

cmd_down() {
	[ "$(id -u)" -eq 0 ] || die "must run as root"
	for h in $HOSTS; do
		kill_host "$h"
	done
	net_down
	rm -rf "$STATE"
}

cmd_status() {
	for h in $HOSTS; do
		if ! ip netns list | grep -q "^$(ns "$h")\b"; then
			state="absent"
		elif host_running "$h"; then
			state="running ($(host_pids "$h" | wc -l) processes)"
		else
			state="stopped"
		fi
		if in_ns "$h" nft list table inet cluster_partition >/dev/null 2>&1; then
			state="$state, partitioned"
		fi
		printf '%-7s %-15s %s\n' "$h" "$NET4.$(addr_of "$h")" "$state"
	done
}

cmd_partition() {
	# Dropped, not refused: peers see silence and their timeouts run.
	in_ns "$1" nft -f - <<NFT
table inet cluster_partition {
	chain input { type filter hook input priority -10; policy accept; iifname "eth0" drop; }
	chain output { type filter hook output priority -10; policy accept; oifname "eth0" drop; }
}
NFT
}

cmd_heal() {
	in_ns "$1" nft delete table inet cluster_partition 2>/dev/null || true
}

[ $# -ge 1 ] || die "usage: $0 up|down|status|kill|stop|start|partition|heal HOST|ctl ARGS|exec HOST CMD"
cmd=$1
shift
case $cmd in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
kill|stop|start|partition|heal)
	[ $# -eq 1 ] || die "usage: $0 $cmd HOST"
	addr_of "$1" >/dev/null
	case $cmd in
	kill) kill_host "$1" ;;
	stop) stop_host "$1" ;;
	start) start_host "$1" ;;
	partition) cmd_partition "$1" ;;
	heal) cmd_heal "$1" ;;
	esac ;;
ctl) ctl "$@" ;;
exec)
	[ $# -ge 2 ] || die "usage: $0 exec HOST COMMAND..."
	h=$1
	shift
	in_ns "$h" "$@" ;;
*) die "unknown command \"$cmd\"" ;;
esac
