#!/bin/sh
# Build the fuzz targets (build.sh) and run each for FUZZ_SECONDS under
# ASan/UBSan/LeakSanitizer, starting from its committed corpus
# (tests/fuzz/corpus/<target>) and dictionary.  Fails when any target
# crashes, leaks, times out (an input slower than FUZZ_TIMEOUT seconds)
# or runs out of memory, and prints the reproducer's path.
#
#	sh tests/fuzz/run.sh [-r] [target...]
#
# -r (or FUZZ_REPLAY=1) only replays the committed corpus: a regression
# test of a few seconds.  New inputs the fuzzer finds go to
# _fuzz/corpus/<target> (not committed), reproducers to
# _fuzz/artifacts/<target>/.  See tests/fuzz/README.md.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_BUILDDIR:-$top/_fuzz}
seconds=${FUZZ_SECONDS:-25}
timeout=${FUZZ_TIMEOUT:-5}
replay=${FUZZ_REPLAY:-}
if [ "${1:-}" = -r ]; then
	replay=1
	shift
fi

if [ $# -eq 0 ]; then
	for f in "$top"/tests/fuzz/fuzz_*.c; do
		t=${f##*/fuzz_}
		set -- "$@" "${t%.c}"
	done
fi
[ -n "${FUZZ_NO_BUILD:-}" ] || sh "$top/tests/fuzz/build.sh" "$@"

dict_of() {
	case $1 in
	smtpd|lmtpd|smtp_data) echo smtp ;;
	smtpd_auth) echo smtpd_auth ;;
	imap_*|mime_section) echo imap ;;
	mime|mime_decode) echo mime ;;
	qfile|attr) echo qfile ;;
	*) ;;
	esac
}

# The targets write their files under TMPDIR: memory is faster (fsync).
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	TMPDIR=/dev/shm
	export TMPDIR
fi
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS

failed=""
for t in "$@"; do
	exe=$out/fuzz_$t
	seeds=$top/tests/fuzz/corpus/$t
	log=$out/fuzz_$t.log
	art=$out/artifacts/$t
	mkdir -p "$out/corpus/$t" "$art"
	set -- -timeout="$timeout" -rss_limit_mb=2048 \
	    -artifact_prefix="$art/" -print_final_stats=1
	d=$(dict_of "$t")
	[ -z "$d" ] || set -- "$@" -dict="$top/tests/fuzz/dict/$d.dict"
	[ -d "$seeds" ] || seeds=""
	if [ -n "$replay" ]; then
		set -- "$@" -runs=0 ${seeds:+"$seeds"}
	else
		set -- "$@" -max_total_time="$seconds" "$out/corpus/$t" \
		    ${seeds:+"$seeds"}
	fi
	rm -f "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-* \
	    "$art"/slow-unit-*
	if "$exe" "$@" >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
		printf 'fuzz: %-14s ok: %s runs, %s\n' "$t" "${execs:-?}" \
		    "${cov:-cov: ?}"
		continue
	fi
	failed="$failed $t"
	repro=""
	for f in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*; do
		[ -f "$f" ] && repro=$f && break
	done
	grep -E 'ERROR|SUMMARY|panic|fatal' "$log" | head -5 >&2 || true
	echo "fuzz: $t FAILED (log: $log)" >&2
	if [ -n "$repro" ]; then
		echo "fuzz: reproducer: $repro" >&2
		echo "fuzz: rerun: $exe $repro" >&2
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: FAILED:$failed" >&2
	exit 1
fi
echo "fuzz: every target passed"
