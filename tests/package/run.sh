#!/bin/sh
# The packaging test: build the Debian package and the RPM from the
# `make dist` tarball, lint both, install the .deb and prove it serves mail
# (tests/package/installed.sh), purge it.  Run as root from a source tree
# (.ci/run does, after the README's test command).
#
# The .deb conflicts with every other mail-transport-agent.  On a machine
# without one it is installed right here, as an operator would.  When
# another MTA is installed (say postfix, kept for benchmarks), the test
# does not remove it: it installs into a minimal Debian 12 chroot made
# with debootstrap instead (cached in $ISPMAIL_PKG_CACHE), which shares
# the network, so ports 25 and 993 must be free either way.
#
# Environment: ISPMAIL_PKG_WORK (default: a new directory under /var/tmp),
# ISPMAIL_PKG_CACHE (default /var/tmp/ispmail-pkg-cache),
# ISPMAIL_PKG_TARGET=host|chroot to force where it installs.
# Fails loudly: the first failing step prints "package: FAIL: ..." and
# exits 1.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
here="$top/tests/package"

fail() { echo "package: FAIL: $*" >&2; exit 1; }
step() { echo "package: $*"; }
run_logged() {
	# $1 log file, rest: the command; its tail is shown when it fails.
	log=$1; shift
	"$@" >"$log" 2>&1 || { tail -n 40 "$log" >&2; fail "$* (log: $log)"; }
}

[ "$(id -u)" -eq 0 ] || fail "run as root: the test installs a package"
for tool in dpkg-buildpackage dh dpkg-checkbuilddeps lintian rpmbuild rpmlint \
    debootstrap python3; do
	command -v "$tool" >/dev/null 2>&1 \
	    || fail "$tool is missing: run scripts/install-deps.sh"
done
work=${ISPMAIL_PKG_WORK:-$(mktemp -d /var/tmp/ispmail-pkg-test.XXXXXX)}
mkdir -p "$work"
cache=${ISPMAIL_PKG_CACHE:-/var/tmp/ispmail-pkg-cache}

# --- the tarball -------------------------------------------------------
step "make dist (in $work/dist)"
[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi) >/dev/null 2>&1
mkdir -p "$work/dist"
cd "$work/dist"
run_logged "$work/configure.log" "$top/configure" -q
run_logged "$work/dist.log" make dist
tarball=$(ls "$work"/dist/ispmail-*.tar.gz)
version=$(basename "$tarball" .tar.gz | sed 's/^ispmail-//')
tar tzf "$tarball" | grep -qx "ispmail-$version/ispmail.spec" \
    || fail "the tarball has no ispmail.spec"
tar tzf "$tarball" | grep -qx "ispmail-$version/conf/packaged/ispmail.service" \
    || fail "the tarball has no systemd unit"

# --- Debian --------------------------------------------------------------
step "dpkg-buildpackage -us -uc -b (from the tarball and debian/)"
rm -rf "$work/deb"
mkdir -p "$work/deb"
tar xzf "$tarball" -C "$work/deb"
src="$work/deb/ispmail-$version"
cp -R "$top/debian" "$src/"
(cd "$src" && dpkg-checkbuilddeps) || fail "build dependencies missing (dpkg-checkbuilddeps above)"
(cd "$src" && run_logged "$work/deb-build.log" dpkg-buildpackage -us -uc -b)
deb=$(ls "$work"/deb/ispmail_*.deb)
step "lintian (no errors allowed)"
status=0
lintian --fail-on error --pedantic "$work"/deb/ispmail_*.changes \
    >"$work/lintian.log" 2>&1 || status=$?
sed 's/^/package:   /' "$work/lintian.log"
[ $status -eq 0 ] || fail "lintian reports errors (exit $status)"

# --- RPM -----------------------------------------------------------------
# Debian's rpm has no Fedora packages in its database: --nodeps, the
# build dependencies are the Debian ones the .deb build just checked.
step "rpmbuild -ta --nodeps $tarball"
rm -rf "$work/rpm"
run_logged "$work/rpm-build.log" rpmbuild -ta --nodeps \
    --define "_topdir $work/rpm" "$tarball"
rpm=$(ls "$work"/rpm/RPMS/*/ispmail-"$version"-*.rpm | grep -v debug)
step "rpmlint (no errors allowed)"
# rpmlint exits non-zero for warnings too: judge by its summary line.
rpmlint -r "$here/rpmlintrc" "$rpm" "$work"/rpm/SRPMS/*.src.rpm >"$work/rpmlint.log" 2>&1 || true
sed 's/^/package:   /' "$work/rpmlint.log"
grep -Eq '[0-9]+ packages? and [0-9]+ specfiles? checked; 0 errors' "$work/rpmlint.log" \
    || fail "rpmlint reports errors (or did not run)"
rpm -qp --scripts "$rpm" | grep -q "useradd -r" || fail "the RPM creates no users in %pre"
rpm -qpc "$rpm" | grep -qx /etc/ispmail/main.conf || fail "main.conf is no %config in the RPM"

# --- install and run ---------------------------------------------------------
target=${ISPMAIL_PKG_TARGET:-}
other=$(dpkg-query -W -f='${Package} ${Status} ${Provides}\n' 2>/dev/null \
    | awk '/ok installed/ && /mail-transport-agent/ && $1 != "ispmail" { print $1 }')
if [ -z "$target" ] && [ -n "$other" ]; then
	step "$other is installed (a mail-transport-agent ispmail conflicts with): installing into a chroot instead"
	target=chroot
fi
if [ "${target:-host}" = host ] && [ -n "$other" ]; then
	fail "installing here would remove $other: use ISPMAIL_PKG_TARGET=chroot"
fi
target=${target:-host}
case "$target" in
host)
	step "installing on this machine"
	# On a host with systemd running, postinst would start the unit and
	# hold the ports: the test starts the master itself, so keep it off.
	policy=/usr/sbin/policy-rc.d
	made_policy=""
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' > "$policy"
		chmod 755 "$policy"
		made_policy=yes
		trap 'rm -f "$policy"' EXIT
	fi
	sh "$here/installed.sh" "$deb" "$here/mailcheck.py" \
	    || fail "the installed package (see above)"
	if [ -n "$made_policy" ]; then
		rm -f "$policy"
		trap - EXIT
	fi
	;;
chroot)
	. "$here/chroot.sh"
	root="$work/chroot"
	trap 'chroot_release "$root"' EXIT
	chroot_make "$root" "$cache" "$work/debootstrap.log" \
	    || fail "making the chroot $root (see $work/debootstrap.log)"
	# No service starts from a maintainer script in there.
	printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	mkdir -p "$root/tmp/pkgtest"
	cp "$deb" "$here/installed.sh" "$here/mailcheck.py" "$root/tmp/pkgtest/"
	step "apt-get update and the test's own tools (python3, procps) in the chroot"
	run_logged "$work/chroot-apt.log" chroot "$root" sh -c \
	    'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 procps'
	step "installing in the chroot $root"
	chroot "$root" sh /tmp/pkgtest/installed.sh "/tmp/pkgtest/$(basename "$deb")" \
	    /tmp/pkgtest/mailcheck.py || fail "the installed package (see above)"
	chroot_release "$root"
	trap - EXIT
	rm -rf "$root"
	;;
*)
	fail "ISPMAIL_PKG_TARGET must be host or chroot, not $target"
	;;
esac
step "OK: $(basename "$deb"), $(basename "$rpm") built, linted, installed, served mail, purged"
[ -n "${ISPMAIL_PKG_WORK:-}" ] || rm -rf "$work"
