#!/bin/sh
# Run the multi-host tests (tests/cluster) against a build tree: they build
# the cluster of scripts/cluster.sh in network namespaces, so they need
# root; without root or network namespaces they fail with the reason.
# `make check` sets top_srcdir and top_builddir; by hand both default to
# the tree this script is in.  The scenario table goes to
# $CLUSTER_RESULTS (default $TMPDIR/ispmail-cluster-results.json).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
PYTHON3=${PYTHON3:-/usr/bin/python3}
PYTHONDONTWRITEBYTECODE=1
export top_srcdir top_builddir PYTHONDONTWRITEBYTECODE

if ! "$PYTHON3" -c 'import pytest' >/dev/null 2>&1; then
	echo "cluster: $PYTHON3 cannot import pytest: install the Debian package python3-pytest" >&2
	exit 1
fi
cd "${TMPDIR:-/tmp}" || exit 1
exec "$PYTHON3" -m pytest -p no:cacheprovider -q \
	--rootdir="$top_srcdir/tests/cluster" \
	"$top_srcdir/tests/cluster" "$@"
