#!/bin/sh
# Build the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang, out of
# tree in _fuzz/ (FUZZ_BUILDDIR), from the same sources as the normal
# build: configure runs there with CC=clang and the sanitizer flags, make
# builds libispmail, and each target is linked with the daemon sources it
# needs.  The gcc build in _build/ is not touched.
#
#	sh tests/fuzz/build.sh [target...]	(default: every target)
#
# test -nt is not POSIX, but dash, bash and busybox have it; the quotes
# in cppflags are meant to reach the compiler (string macros).
# shellcheck disable=SC3013,SC2089,SC2090
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_BUILDDIR:-$top/_fuzz}
cc=${FUZZ_CC:-$(command -v clang || command -v clang-14 || echo clang)}
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-g -O1 -fno-omit-frame-pointer $san"

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz/build: $cc not found: install the Debian packages clang-14" \
	    "and libclang-rt-14-dev (scripts/install-deps.sh)" >&2
	exit 1
fi
[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
mkdir -p "$out"
cd "$out"
# Configure again when configure changed since the last time.
if [ ! -f config.status ] || [ "$top/configure" -nt config.status ]; then
	"$top/configure" -q CC="$cc" \
	    CFLAGS="$cflags -fsanitize=fuzzer-no-link"
fi
make -s -j2 common/libispmail.a

var() { sed -n "s/^$1 = //p" Makefile; }
libs="common/libispmail.a $(var LDAP_LIBS) $(var CRYPT_LIBS) \
	$(var OPENSSL_LIBS) $(var CARES_LIBS) $(var ZLIB_LIBS) -lm"
# smtpd's sender authentication libraries, for fuzz_smtpd only.
smtpd_libs="$(var SPF2_LIBS) $(var OPENDMARC_LIBS)"
# The escaped quotes are meant to reach the compiler: string macros.
cppflags="-I. $(for d in util global mail route store net; do
	printf -- '-I%s/common/%s ' "$top" "$d"; done) -I$top/tests/fuzz \
	-DISPMAIL_CONFIG_DIR=\"/nonexistent\" \
	-DISPMAIL_DAEMON_DIR=\"/nonexistent\" \
	-DISPMAIL_QUEUE_DIR=\"/nonexistent\" \
	$(var OPENSSL_CFLAGS) $(var CARES_CFLAGS)"

smtpd_sources="-I$top/smtpd $top/smtpd/smtpd_env.c \
	$top/smtpd/smtpd_srs.c $top/smtpd/smtpd_queue.c \
	$top/smtpd/smtpd_direct.c $top/smtpd/smtpd_msa.c \
	$top/smtpd/smtpd_trust.c $top/smtpd/smtpd_filter.c \
	$top/smtpd/smtpd_poison.c $top/smtpd/smtpd_authres.c \
	$top/smtpd/smtpd_authres_check.c $top/smtpd/smtpd_authres_from.c \
	$top/smtpd/smtpd_account.c \
	$top/smtpd/smtpd_arc.c $top/lmtpd/lmtpd_seen.c $smtpd_libs"

# The sources each target needs besides libispmail, and include dirs.
sources() {
	case $1 in
	smtpd) echo "$smtpd_sources $top/smtpd/smtpd_authres_dns.c" ;;
	# It compiles smtpd_authres_dns.c (and dns.c) into its own object.
	smtpd_auth) echo "$smtpd_sources" ;;
	imap_envcache) echo "-I$top/imapd $top/imapd/imap_envcache.c" \
	    "$top/imapd/imap_uidlist.c $top/imapd/imap_modseq.c" \
	    "$top/imapd/imap_keywords.c" ;;
	imap_*) echo "-I$top/imapd $top/imapd/imap_parse.c" ;;
	pop_cmd) echo "-I$top/popd $top/popd/pop_cmd.c" ;;
	lmtpd) echo "-I$top/lmtpd lmtpd_nomain.o $top/lmtpd/lmtpd_cmd.c" \
	    "$top/lmtpd/lmtpd_deliver.c $top/lmtpd/lmtpd_spool.c" \
	    "$top/lmtpd/lmtpd_seen.c $top/lmtpd/dotlock.c" ;;
	master_conf) echo "-I$top/master $top/master/master_conf.c" ;;
	*) ;;
	esac
}

if [ $# -eq 0 ]; then
	set --
	for f in "$top"/tests/fuzz/fuzz_*.c; do
		t=${f##*/fuzz_}
		set -- "$@" "${t%.c}"
	done
fi
# lmtpd.c holds lmtpd_reply() and the transaction reset next to main().
# shellcheck disable=SC2086
[ lmtpd_nomain.o -nt "$top/lmtpd/lmtpd.c" ] ||
    $cc $cflags -fsanitize=fuzzer-no-link $cppflags -Dmain=lmtpd_main \
    -Wno-missing-prototypes -c -o lmtpd_nomain.o "$top/lmtpd/lmtpd.c"

# Is $1 older than any of the other files (or missing)?
stale() {
	built=$1
	shift
	[ -f "$built" ] || return 0
	for f in "$@"; do
		[ ! "$f" -nt "$built" ] || return 0
	done
	return 1
}

status=0
for t in "$@"; do
	exe=fuzz_$t
	# Every file of the daemon directories it uses counts.
	# shellcheck disable=SC2046
	stale "$exe" "$top/tests/fuzz/fuzz_$t.c" "$top/tests/fuzz/fuzz.c" \
	    "$top/tests/fuzz/fuzz.h" common/libispmail.a lmtpd_nomain.o \
	    "$top/tests/fuzz/fuzz_smtpd.c" "$top"/common/net/*.c \
	    "$top"/common/*/*.h $(sources "$t" | tr ' ' '\n' | grep '\.c$' |
	    sed 's|/[^/]*$||' | sort -u | sed 's|$|/*|') || continue
	# shellcheck disable=SC2046,SC2086
	if ! $cc $cflags $(var WARN_CFLAGS) -Werror -fsanitize=fuzzer \
	    $cppflags -o "$exe" \
	    "$top/tests/fuzz/fuzz_$t.c" "$top/tests/fuzz/fuzz.c" \
	    $(sources "$t") $libs; then
		echo "fuzz/build: $exe FAILED" >&2
		status=1
	fi
done
exit $status
