#!/bin/sh
# The library validates every GREEN_* variable at start: a bad value stops the program with
# exactly one line on stderr that names the variable and what it accepts, exit status 125,
# nothing on stdout; good values run the program unchanged. Checked through LD_PRELOAD and
# through green-run's options.
# usage: test-config.sh GREEN_RUN LIBGREEN
green_run=$1
lib=$(realpath "$2")
# A sanitizer build's runtime comes right after the library (SANITIZER_RUNTIME, set by meson).
lib=$lib${SANITIZER_RUNTIME:+:$SANITIZER_RUNTIME}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-config.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
failures=0

bad() {  # bad VARIABLE VALUE WORD-IN-MESSAGE
    env "$1=$2" LD_PRELOAD="$lib" /bin/echo should-not-run >"$tmp/out" 2>"$tmp/err"
    status=$?
    if [ "$status" -ne 125 ] || [ -s "$tmp/out" ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] ||
       ! grep -q "^libgreen: $1='" "$tmp/err" || ! grep -q "$3" "$tmp/err"; then
        echo "FAIL: $1=$2: status $status, stdout '$(cat "$tmp/out")', stderr '$(cat "$tmp/err")'"
        failures=$((failures + 1))
    else
        echo "ok: $1=$2 -> $(cat "$tmp/err")"
    fi
}

good() {  # good VARIABLE VALUE
    out=$(env "$1=$2" LD_PRELOAD="$lib" /bin/echo ran 2>"$tmp/err")
    status=$?
    if [ "$status" -ne 0 ] || [ "$out" != ran ] || grep -v '^libgreen: stats: ' "$tmp/err" | grep -q .; then
        echo "FAIL: $1=$2 should run: status $status, stdout '$out', stderr '$(cat "$tmp/err")'"
        failures=$((failures + 1))
    else
        echo "ok: $1=$2 runs"
    fi
}

bad GREEN_STACK_SIZE abc "16K to 4G"
bad GREEN_STACK_SIZE 1K "16K to 4G"
bad GREEN_STACK_SIZE 64X "16K to 4G"
bad GREEN_STACK_SIZE -5 "16K to 4G"
bad GREEN_STACK_SIZE 8G "16K to 4G"
bad GREEN_STACK_GUARD sometimes "auto, always or never"
bad GREEN_STATS yes "use 1"
bad GREEN_LOG verbose "error, warn or debug"
bad GREEN_RESOLVER dns "ares, thread or native"
bad GREEN_THREADS os "use green (threads become green threads) or native"
bad GREEN_DNS_SERVERS 300.1.1.1 "comma-separated list"
bad GREEN_DNS_SERVERS 127.0.0.1:0 "comma-separated list"
bad GREEN_DNS_SERVERS "127.0.0.1,,::1" "comma-separated list"
bad GREEN_DNS_SERVERS "[::1" "comma-separated list"
good GREEN_RESOLVER thread
good GREEN_THREADS native
good GREEN_DNS_SERVERS "127.0.0.1:5353,[::1]:53,::1,10.0.0.1"
good GREEN_STACK_SIZE 256K
good GREEN_STACK_SIZE 16384
good GREEN_STACK_SIZE 1G
good GREEN_STACK_GUARD never
good GREEN_STATS 0
good GREEN_LOG warn
good GREEN_STACK_SIZE ""

# green-run's options reach the same check.
"$green_run" --stack-size=tiny /bin/echo should-not-run >"$tmp/out" 2>"$tmp/err"
status=$?
if [ "$status" -ne 125 ] || [ -s "$tmp/out" ] || ! grep -q "^libgreen: GREEN_STACK_SIZE='tiny'" "$tmp/err"; then
    echo "FAIL: green-run --stack-size=tiny: status $status, stderr '$(cat "$tmp/err")'"
    failures=$((failures + 1))
else
    echo "ok: green-run --stack-size=tiny -> 125"
fi

[ "$failures" -eq 0 ] && echo "all configuration cases passed"
exit "$failures"
