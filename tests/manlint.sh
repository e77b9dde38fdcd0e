#!/bin/sh
# Lint every man page with mandoc (warnings count as failures) and check
# that every program an operator runs has one.  Run by `make check` with
# top_srcdir and MANDOC in the environment; by hand it finds the source
# tree from its own location and mandoc on PATH.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
if [ -z "${MANDOC+set}" ]; then
	MANDOC=$(command -v mandoc || true)
fi
if [ -z "$MANDOC" ]; then
	echo "manlint: mandoc not found (MANDOC is empty): install the Debian package mandoc and re-run configure" >&2
	exit 1
fi
if ! command -v "$MANDOC" >/dev/null 2>&1; then
	echo "manlint: $MANDOC not found: install the Debian package mandoc" >&2
	exit 1
fi

# The programs installed in sbin (Makefile.am sbin_PROGRAMS) and the
# daemons the master runs (pkglibexec_PROGRAMS).
sbin_programs="ispmail-master ispmailctl smtpd qmgr smtp lmtpd popd imapd anvil proxyd authd"

failed=0
checked=0
for page in "$top_srcdir"/man/*.[1-8]; do
	[ -e "$page" ] || continue
	checked=$((checked + 1))
	if [ ! -s "$page" ]; then
		echo "manlint: $page is empty" >&2
		failed=1
		continue
	fi
	# mandoc -Tlint exits non-zero for warnings too; any output fails.
	out=$("$MANDOC" -Tlint -W warning "$page" 2>&1)
	if [ -n "$out" ]; then
		printf '%s\n' "$out" >&2
		failed=1
	fi
done
if [ "$checked" -eq 0 ]; then
	echo "manlint: no man pages under $top_srcdir/man" >&2
	failed=1
fi
for prog in $sbin_programs; do
	if [ ! -e "$top_srcdir/man/$prog.8" ]; then
		echo "manlint: $prog has no man page (expected man/$prog.8)" >&2
		failed=1
	fi
done
if [ "$failed" -ne 0 ]; then
	echo "manlint: FAILED" >&2
	exit 1
fi
echo "manlint: $checked man pages clean"
exit 0
