#!/bin/sh
# The README's quick start on a fresh Debian 12: debootstrap a minimal
# chroot (cached in $ISPMAIL_PKG_CACHE, as tests/package/run.sh does),
# copy the committed tree (git archive HEAD) into /root/ispmail there, run
# `sh scripts/quickstart.sh` as root, then every command it printed
# (swaks, curl, ispmailctl, mandoc, kill), each of which must succeed.
# Run as root; it shares the network, so the quick-start ports (2525,
# 2587, 2465, 2110, 2995, 2143, 2993) must be free.  Slow (it installs the
# build dependencies and builds): not part of CI, run it by hand.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cache=${ISPMAIL_PKG_CACHE:-/var/tmp/ispmail-pkg-cache}
root=${ISPMAIL_QS_CHROOT:-/var/tmp/ispmail-qs-chroot}

fail() { echo "quickstart-chroot: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "run as root"
. "$top/tests/package/chroot.sh"
cleanup() {
	# A master the quick start left running (when a step failed).
	for pidfile in "$root"/var/lib/ispmail-quickstart/queue/pid/master.pid \
	    "$root"/root/ispmail/quickstart/queue/pid/master.pid; do
		[ -f "$pidfile" ] && kill "$(head -n 1 "$pidfile")" 2>/dev/null && sleep 2
	done
	chroot_release "$root"
}
trap cleanup EXIT
chroot_make "$root" "$cache" /var/tmp/ispmail-qs-debootstrap.log || fail "making the chroot $root"
mkdir -p "$root/root/ispmail"
(cd "$top" && git archive HEAD) | tar x -C "$root/root/ispmail"

echo "quickstart-chroot: sh scripts/quickstart.sh in $root"
chroot "$root" sh -c 'cd /root/ispmail && sh scripts/quickstart.sh' \
    >"$root/quickstart.out" 2>&1 || { tail -n 40 "$root/quickstart.out"; fail "the quick start"; }
sed -n '/ispmail is running/,$p' "$root/quickstart.out"

# The printed commands: "swaks ..." and "curl ..." lines (joined at a
# trailing backslash) and what follows "label:" for the rest.
cmds=$(awk '
	/^    (swaks|curl) / || cont { sub(/^ +/, ""); line = line $0;
		if (line ~ /\\$/) { sub(/\\$/, "", line); cont = 1; next }
		cont = 0; print line; line = ""; next }
	/^  (the queue|how it routes|status|settings|man|stop): / {
		sub(/^  [^:]+: +/, ""); sub(/ +\(and .*$/, ""); print }
' "$root/quickstart.out")
[ "$(printf '%s\n' "$cmds" | wc -l)" -ge 10 ] || fail "expected at least 10 printed commands, found: $cmds"
printf '%s\n' "$cmds" | grep -v '^kill ' > "$root/commands.sh"
printf '%s\n' "$cmds" | grep '^kill ' >> "$root/commands.sh"
status=0
while IFS= read -r cmd; do
	echo "quickstart-chroot: \$ $cmd"
	# The first swaks waits for a body on standard input.
	if ! chroot "$root" sh -c "$cmd" </dev/null >"$root/cmd.out" 2>&1; then
		tail -n 20 "$root/cmd.out"
		echo "quickstart-chroot: FAIL: $cmd" >&2
		status=1
	fi
done < "$root/commands.sh"
[ $status -eq 0 ] || fail "printed commands failed (above)"
echo "quickstart-chroot: OK: the quick start and its $(wc -l < "$root/commands.sh") printed commands work on a fresh Debian 12"
cleanup
trap - EXIT
rm -rf "$root"
