#!/bin/sh
# GREEN_STATS names the calls that had to block a hub thread. Usage: test-blocked.sh GREEN_RUN
# BLOCKED_CALL (the tests/tools/blocked_call.c program, which makes two such calls).
set -u
green_run=$1
program=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-blocked.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $1" >&2
    echo "--- stdout:" >&2; cat "$tmp/out" >&2
    echo "--- stderr:" >&2; cat "$tmp/err" >&2
    exit 1
}

env -u LD_PRELOAD "$program" >"$tmp/out" 2>"$tmp/err" || fail "natively: exit $?"
[ ! -s "$tmp/err" ] || fail "natively: output on stderr"
grep -qx 'blocked_calls = 0' "$tmp/out" || fail "natively: blocked_calls is not 0"
echo "ok: natively, nothing blocked and nothing on stderr"

"$green_run" --stats "$program" >"$tmp/out" 2>"$tmp/err" || fail "green: exit $?"
grep -qx 'blocked_calls = 2' "$tmp/out" || fail "green: green_read_stats does not count 2"
grep -q '^libgreen: stats: .* blocked=2$' "$tmp/err" || fail "green: the stats line lacks blocked=2"
grep -qx 'libgreen: blocked: waitpid=2' "$tmp/err" || fail "green: no 'libgreen: blocked: waitpid=2'"
[ "$(grep -c . "$tmp/err")" -eq 2 ] || fail "green: more than the two stats lines on stderr"
echo "ok: green, $(grep '^libgreen: blocked:' "$tmp/err")"

"$green_run" "$program" >"$tmp/out" 2>"$tmp/err" || fail "green without --stats: exit $?"
[ ! -s "$tmp/err" ] || fail "green without --stats: output on stderr"
echo "ok: green without --stats, nothing on stderr"
