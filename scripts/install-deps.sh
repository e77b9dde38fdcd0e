#!/bin/sh
# Install the Debian packages ispmail needs to build, run and test, and
# to build and test its packages (tests/package/run.sh: debhelper, lintian,
# rpm's rpmbuild, rpmlint, ssl-cert's snakeoil certificate, debootstrap).
# tests/cluster needs nftables (partitions) and dnsmasq-base.
# swaks needs libnet-ssleay-perl for --tls (a recommends, which
# --no-install-recommends leaves out).  spamd and clamav-daemon are the
# real filters tests/integration/test_filter.py starts on loopback ports.
# Safe to run again: apt-get is skipped when everything is installed.
set -eu

PACKAGES="build-essential autoconf automake pkg-config slapd ldap-utils
libssl-dev libc-ares-dev libcurl4-openssl-dev libldap-dev libcrypt-dev zlib1g-dev check
mandoc python3 python3-pytest openssl socat swaks curl procps iproute2 nftables
fetchmail isync dnsmasq-base unbound ldnsutils libnet-ssleay-perl strace mount
libmail-imapclient-perl
clang-14 libclang-rt-14-dev
debhelper dh-autoreconf dpkg-dev lintian rpm rpmlint ssl-cert debootstrap
adduser passwd
spamd spamassassin clamav-daemon
libmicrohttpd-dev prometheus
libopendkim-dev libspf2-dev libopendmarc-dev publicsuffix opendkim-tools
python3-dkim python3-nacl python3-dnspython python3-authres"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-deps: need root (or sudo) to install:$missing" >&2
	exit 1
fi
# Packages such as slapd start a system service from their postinst; the
# tests start their own on loopback ports, so keep the system one from
# starting (or failing to start on a machine without an init system).
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	made_policy=yes
fi
status=0
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q || status=$?
if [ $status -eq 0 ]; then
	# shellcheck disable=SC2086
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends $missing || status=$?
fi
[ -n "$made_policy" ] && $SUDO rm -f "$policy"
exit $status
