#!/bin/sh
# Run the pytest integration suite (tests/integration) against the programs
# of a build tree.  `make check` sets top_srcdir and top_builddir (absolute,
# AM_TESTS_ENVIRONMENT); run by hand from a build made in the source tree,
# both default to the tree this script is in.  Nothing is written into the
# source tree (make distcheck runs with it read-only): no bytecode, no
# pytest cache, instances live under $TMPDIR.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
PYTHON3=${PYTHON3:-/usr/bin/python3}
PYTHONDONTWRITEBYTECODE=1
export top_srcdir top_builddir PYTHONDONTWRITEBYTECODE

if ! "$PYTHON3" -c 'import pytest' >/dev/null 2>&1; then
	echo "integration: $PYTHON3 cannot import pytest: install the Debian package python3-pytest" >&2
	exit 1
fi
for prog in master/ispmail-master tools/ispmailctl tests/ispmail-testsvc; do
	if [ ! -x "$top_builddir/$prog" ]; then
		echo "integration: $top_builddir/$prog is missing: build it first (make check builds it)" >&2
		exit 1
	fi
done

# pytest's rootdir would be the source tree; keep its cache out of it and
# run from a scratch directory so nothing lands in the current one either.
cd "${TMPDIR:-/tmp}" || exit 1
exec "$PYTHON3" -m pytest -p no:cacheprovider -q \
	--rootdir="$top_srcdir/tests/integration" \
	"$top_srcdir/tests/integration" "$@"
