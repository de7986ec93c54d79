#!/bin/sh
# The public header and pkg-config file as a user gets them: installs the build into a staging
# directory (meson install --destdir), builds tests/tools/api_probe.c with
# `pkg-config --cflags --libs libgreen` from there, and runs the one binary natively, under
# green-run and under the installed library. Usage: test-api.sh BUILD_ROOT GREEN_RUN PROBE_C
# (CC may name a C compiler). Stops at the first failed case and names it.
set -u

if [ $# -ne 3 ]; then
    echo "usage: $0 BUILD_ROOT GREEN_RUN PROBE_C" >&2
    exit 2
fi
build=$(readlink -f "$1")
green_run=$(readlink -f "$2")
probe_c=$(readlink -f "$3")
cc=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-api.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $1" >&2
    exit 1
}
expect() {  # expect NAME ACTUAL EXPECTED
    if [ "$2" != "$3" ]; then
        printf 'FAIL: %s\n--- got:\n%s\n--- expected:\n%s\n' "$1" "$2" "$3" >&2
        exit 1
    fi
    echo "ok: $1"
}

meson install -C "$build" --destdir "$tmp/dest" --no-rebuild >"$tmp/install.log" 2>&1 \
    || { cat "$tmp/install.log" >&2; fail "meson install --destdir"; }
pc=$(find "$tmp/dest" -name libgreen.pc | head -n 1)
header=$(find "$tmp/dest" -name green.h | head -n 1)
library=$(find "$tmp/dest" -name libgreen.so | head -n 1)
[ -n "$pc" ] && [ -n "$header" ] && [ -n "$library" ] \
    || fail "the staged install lacks libgreen.pc, green.h or libgreen.so"
echo "ok: installed $(echo "$pc $header" | sed "s|$tmp/dest||g")"

# The .pc file names the final prefix; the sysroot points pkg-config into the staging tree.
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR="$tmp/dest" \
        pkg-config --cflags --libs libgreen) || fail "pkg-config --cflags --libs libgreen"
echo "ok: pkg-config says: $flags"
# shellcheck disable=SC2086  # the flags are words
$cc -Wall -Wextra -Werror -o "$tmp/probe" "$probe_c" $flags -pthread \
    || fail "building the probe with the installed header"

native=$(env -u LD_PRELOAD "$tmp/probe") || fail "the probe failed natively"
expect "natively: not active, no stats, no ids" "$native" "green_active() = 0
green_read_stats() = -1, counting 0, parked: no, green threads >= 2: no
green_thread_id(): main 0, a thread 0, different: no"

green=$("$green_run" --stats "$tmp/probe" 2>"$tmp/err") || fail "the probe failed under green-run"
expect "under green-run --stats: active, counting, two green threads" "$green" "green_active() = 1
green_read_stats() = 0, counting 1, parked: yes, green threads >= 2: yes
green_thread_id(): main nonzero, a thread nonzero, different: yes"

green=$(LD_PRELOAD="$library${SANITIZER_RUNTIME:+:$SANITIZER_RUNTIME}" "$tmp/probe") || fail "the probe failed under the installed library"
expect "under the installed libgreen.so: active, not counting" "$green" "green_active() = 1
green_read_stats() = 0, counting 0, parked: no, green threads >= 2: no
green_thread_id(): main nonzero, a thread nonzero, different: yes"
