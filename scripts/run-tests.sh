#!/bin/sh
# Run the whole ispmail test suite from a fresh checkout: install what the
# build needs, build with sanitizers and warnings as errors in _build/, run
# `make check` (Check unit tests, man page lint, integration tests against a
# real master and daemons on loopback), then every fuzz target for a
# bounded time (tests/fuzz/run.sh, built with clang in _fuzz/), then
# `make distcheck` (the release tarball builds and passes its tests too).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

sh scripts/install-deps.sh
autoreconf -fi
rm -rf _build
mkdir -p _build
cd _build
../configure --enable-sanitizers --enable-werror
make -j2
if ! make -j2 check; then
	cat test-suite.log 2>/dev/null || true
	echo "run-tests: make check FAILED" >&2
	exit 1
fi
if ! sh ../tests/fuzz/run.sh; then
	echo "run-tests: fuzzing FAILED (tests/fuzz/README.md)" >&2
	exit 1
fi
if ! make -j2 distcheck; then
	find . -name test-suite.log -path '*_build*' -exec cat {} \; 2>/dev/null || true
	echo "run-tests: make distcheck FAILED" >&2
	exit 1
fi
echo "run-tests: all tests passed"
