# Shared by the stock-program tests: each case runs a program from the distribution natively and
# under green-run, and compares what a user would see (stdout, exit status, stderr).
#
# A case script starts with
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"      # $1 = green-run, $2 = libgreen.so
# then calls run_both / run_both_sh / expect_stat, and ends with `finish`.
# shellcheck shell=bash
set -euo pipefail

if (($# < 2)); then
  echo "usage: ${0##*/} GREEN_RUN LIBGREEN_SO" >&2
  exit 2
fi
GREEN_RUN=$(realpath "$1")
LIBGREEN=$(realpath "$2")
[[ -x $GREEN_RUN ]] || { echo "green-run not found at $GREEN_RUN" >&2; exit 1; }
[[ -f $LIBGREEN ]] || { echo "libgreen.so not found at $LIBGREEN" >&2; exit 1; }
export GREEN_RUN LIBGREEN

# The programs under test are the distribution's, not whatever a user's PATH puts first (a pyenv
# shim would make bash, not python3, the program under test).
export PATH="/usr/bin:/bin:$PATH"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export HERE
TMP=$(mktemp -d "${TMPDIR:-/tmp}/green-stock.XXXXXX")
STATS_RE='^libgreen: stats: '
# Every program run gets this hard limit, so a hang fails the case instead of the suite.
RUN_TIMEOUT=(timeout -k 5 60)
SERVER_PIDS=()
FAILURES=0
CHECKS=0

cleanup() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# $G in run_both_sh snippets: "$G" PROGRAM ARGS runs PROGRAM natively or green.
mkdir -p "$TMP/bin"
printf '#!/bin/sh\nexec "$@"\n' >"$TMP/bin/native"
printf '#!/bin/sh\nexec "$GREEN_RUN" --stats "$@"\n' >"$TMP/bin/green"
chmod +x "$TMP/bin/native" "$TMP/bin/green"

pass() { CHECKS=$((CHECKS + 1)); printf 'ok   %s\n' "$*"; }
fail() { CHECKS=$((CHECKS + 1)); FAILURES=$((FAILURES + 1)); printf 'FAIL %s\n' "$*"; }

free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_port PORT: until something accepts connections on 127.0.0.1:PORT (10 s at most).
wait_port() {
  python3 - "$1" <<'EOF'
import socket, sys, time
deadline = time.monotonic() + 10
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"nothing listens on 127.0.0.1:{sys.argv[1]} after 10 s")
        time.sleep(0.05)
EOF
}

# start_server NAME PORT CMD...: runs CMD natively in the background (its output goes to
# $TMP/NAME.log), records its pid for the exit trap, and waits until PORT accepts connections.
start_server() {
  local name=$1 port=$2
  shift 2
  timeout -k 5 100 "$@" </dev/null >"$TMP/$name.log" 2>&1 &
  SERVER_PIDS+=($!)
  if ! wait_port "$port"; then
    cat "$TMP/$name.log" >&2
    return 1
  fi
}

# The stderr comparison ignores the stats lines; a case may narrow it further by setting
# ERR_FILTER to a command that reads stderr and writes what is worth comparing.
ERR_FILTER='cat'
filtered_err() { grep -v -E "$STATS_RE" "$1" | $ERR_FILTER || true; }

# run_one LABEL MODE CMD...: runs CMD with stdin from $STDIN (default /dev/null), with
# $G pointing at the MODE wrapper, and stores LABEL.MODE.{out,err,rc}. W is a scratch directory
# of the run's own, so native and green runs never share files.
run_one() {
  local label=$1 mode=$2 rc=0
  shift 2
  local base="$TMP/$label.$mode"
  mkdir -p "$base.d"
  G="$TMP/bin/$mode" W="$base.d" "${RUN_TIMEOUT[@]}" "$@" <"${STDIN:-/dev/null}" \
    >"$base.out" 2>"$base.err" || rc=$?
  echo "$rc" >"$base.rc"
}

compare() {
  local label=$1 n="$TMP/$1.native" g="$TMP/$1.green" ok=1
  local nrc grc
  nrc=$(<"$n.rc")
  grc=$(<"$g.rc")
  if ! cmp -s "$n.out" "$g.out"; then
    ok=0
    echo "--- $label: stdout differs"
    diff -u --label native "$n.out" --label green "$g.out" | head -40 || true
  fi
  if [[ $nrc != "$grc" ]]; then
    ok=0
    echo "--- $label: exit status native $nrc, green $grc"
  fi
  if ! diff -u --label native-stderr <(filtered_err "$n.err") \
    --label green-stderr <(filtered_err "$g.err") >"$TMP/$label.errdiff"; then
    ok=0
    echo "--- $label: stderr differs"
    head -40 "$TMP/$label.errdiff"
  fi
  if ! grep -q -E "$STATS_RE" "$g.err"; then
    ok=0
    echo "--- $label: the green run printed no stats line: was the library loaded?"
  fi
  if ((nrc == 124 || nrc == 137)); then
    ok=0
    echo "--- $label: the native run timed out"
  fi
  if ((ok)); then
    pass "$label (exit $nrc; $(stats_summary "$label"))"
  else
    echo "--- $label: native stderr:"; head -20 "$n.err"
    echo "--- $label: green stderr:"; head -20 "$g.err"
    fail "$label"
  fi
}

# run_both LABEL CMD...: CMD natively, then `green-run --stats CMD`; compare.
run_both() {
  local label=$1
  shift
  run_one "$label" native "$@"
  run_one "$label" green "$GREEN_RUN" --stats "$@"
  compare "$label"
}

# run_both_sh LABEL SNIPPET: bash -c SNIPPET twice; inside, "$G" PROG runs PROG natively in the
# first run and green in the second, so one stage of a pipeline can be made green.
run_both_sh() {
  local label=$1
  run_one "$label" native bash -c "$2"
  run_one "$label" green bash -c "$2"
  compare "$label"
}

# stat_value LABEL KEY: the largest KEY over the green run's stats lines (a green shell's
# children print their own). Empty if there is none.
stat_value() {
  grep -E "$STATS_RE" "$TMP/$1.green.err" 2>/dev/null \
    | grep -o -E "(^| )$2=[0-9]+" | cut -d= -f2 | sort -n | tail -n 1 || true
}

stats_summary() {
  local key out=""
  for key in parks fd_waits sleeps; do
    out+="$key=$(stat_value "$1" "$key") "
  done
  echo "${out% }"
}

# expect_stat LABEL KEY MIN: the green run of LABEL parked (or waited) at least MIN times.
expect_stat() {
  local label=$1 key=$2 min=$3 value
  value=$(stat_value "$label" "$key")
  if [[ -n $value ]] && ((value >= min)); then
    pass "$label: $key=$value >= $min"
  else
    fail "$label: expected $key >= $min in the green run's stats, got '${value:-none}'"
  fi
}

finish() {
  echo "$CHECKS checks, $FAILURES failed"
  ((FAILURES == 0))
}
