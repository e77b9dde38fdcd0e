#!/bin/sh
# Install the Debian packages ispmail needs to build, run and test.
# Safe to run again: apt-get is skipped when everything is installed.
set -eu

PACKAGES="build-essential autoconf automake pkg-config slapd ldap-utils
libssl-dev libc-ares-dev libldap-dev libcrypt-dev check
mandoc python3 python3-pytest openssl socat swaks curl procps iproute2"

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
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
