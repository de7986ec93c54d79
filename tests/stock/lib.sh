# Shared by the stock-program tests: each case runs a program from the distribution natively and
# under green-run, and compares what a user would see (stdout, exit status, stderr).
#
# A case script starts with
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"      # $1 = green-run, $2 = libgreen.so
# then calls run_both / run_both_sh / expect_stat, and ends with `finish`. KEEP_TMP=1 keeps the
# scratch directory (every run's out, err and rc files) for a look afterwards.
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

# SERVER_PIDS holds the pids of the `timeout` wrappers started here; SERVER_PID[NAME] the pid
# of the server program itself (what /proc and signals are about), SERVER_WRAP[NAME] its wrapper.
declare -A SERVER_PID=() SERVER_WRAP=()

# RUN_PID: the timeout wrapper of the run in progress. timeout puts its command in a process
# group of its own and signals the whole group, so killing it stops whatever a snippet started.
RUN_PID=

cleanup() {
  local pid
  for pid in $RUN_PID "${SERVER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [[ -n ${KEEP_TMP:-} ]] || rm -rf "$TMP"
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

# wait_file FILE: prints FILE's contents once it is there and not empty (10 s at most); a server
# that binds port 0 writes its port there.
wait_file() {
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -s $1 ]] && { cat "$1"; return 0; }
    sleep 0.05
  done
  echo "$1 did not appear within 10 s" >&2
  return 1
}

# wait_listen PORT: until a socket listens on 127.0.0.1:PORT (10 s at most), seen in
# /proc/net/tcp, without connecting: for a server that serves a single connection.
wait_listen() {
  python3 - "$1" <<'EOF'
import sys, time
want = f"0100007F:{int(sys.argv[1]):04X}"
deadline = time.monotonic() + 10
while True:
    with open("/proc/net/tcp") as f:
        if any(l.split()[1] == want and l.split()[3] == "0A" for l in list(f)[1:]):
            break
    if time.monotonic() > deadline:
        sys.exit(f"nothing listens on 127.0.0.1:{sys.argv[1]} after 10 s")
    time.sleep(0.02)
EOF
}

# Functions the run_both_sh snippets may call.
export -f free_port wait_port wait_file wait_listen

# start_server NAME PORT CMD...: runs CMD natively in the background (its output goes to
# $TMP/NAME.log), records its pid for the exit trap, and waits until PORT accepts connections.
# The program's own pid (not its timeout wrapper's) is in SERVER_PID[NAME].
start_server() {
  local name=$1 port=$2
  shift 2
  # bash writes its pid and execs CMD in its place, so the pid is the program's. A background
  # job starts with SIGINT ignored, and a program (python3 among them) keeps it so: env gives
  # it back its default, so that stop_server NAME INT works as Ctrl-C would.
  timeout -k 5 "${SERVER_TIMEOUT:-100}" env --default-signal=INT \
    bash -c 'echo $$ >"$0" && exec "$@"' "$TMP/$name.pid" "$@" \
    </dev/null >"$TMP/$name.log" 2>&1 &
  SERVER_PIDS+=($!)
  SERVER_WRAP[$name]=$!
  if ! wait_port "$port"; then
    cat "$TMP/$name.log" >&2
    return 1
  fi
  SERVER_PID[$name]=$(<"$TMP/$name.pid")
}

# start_green_server NAME PORT CMD...: start_server with CMD under `green-run --stats`.
start_green_server() {
  local name=$1 port=$2
  shift 2
  start_server "$name" "$port" "$GREEN_RUN" --stats "$@"
}

# stop_server NAME [SIGNAL]: sends SIGNAL (TERM) to the server program, waits for it (at most
# 20 s, then KILL) and stores its exit status in $TMP/NAME.rc. Its output stays in $TMP/NAME.log.
stop_server() {
  local name=$1 sig=${2:-TERM} wrap=${SERVER_WRAP[$1]} rc=0 i
  kill -s "$sig" "${SERVER_PID[$name]}" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    kill -0 "$wrap" 2>/dev/null || break
    sleep 0.1
  done
  kill -s KILL "${SERVER_PID[$name]}" 2>/dev/null || true
  wait "$wrap" || rc=$?
  echo "$rc" >"$TMP/$name.rc"
  # Reaped: its pid may be reused now, so the exit trap must not signal it.
  local pids=() pid
  for pid in "${SERVER_PIDS[@]}"; do
    [[ $pid == "$wrap" ]] || pids+=("$pid")
  done
  SERVER_PIDS=("${pids[@]}")
}

# make_cert DIR: a fresh self-signed certificate for CN=localhost and its key, DIR/cert.pem and
# DIR/key.pem (an EC key: quick to make, quick to handshake).
make_cert() {
  mkdir -p "$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
    -keyout "$1/key.pem" -out "$1/cert.pem" 2>"$1/req.log" \
    || { cat "$1/req.log" >&2; return 1; }
}
export -f make_cert

# expect_log_loaded NAME: a green server printed its stats line when it exited (the library was
# loaded, and the program exited through exit(), not a signal).
expect_log_loaded() {
  if grep -q -E "$STATS_RE" "$TMP/$1.log" 2>/dev/null; then
    pass "$1 server: $(grep -E "$STATS_RE" "$TMP/$1.log" | tail -n 1)"
  else
    fail "$1 server: no stats line in its output: was the library loaded?"
  fi
}

# The stderr comparison ignores the stats lines; a case may narrow it further by setting
# ERR_FILTER to a command that reads stderr and writes what is worth comparing.
ERR_FILTER='cat'
filtered_err() { grep -v -E "$STATS_RE|^libgreen: blocked: " "$1" | $ERR_FILTER || true; }

# run_one LABEL MODE CMD...: runs CMD with stdin from $STDIN (default /dev/null), with
# $G pointing at the MODE wrapper, and stores LABEL.MODE.{out,err,rc}. W is a scratch directory
# of the run's own, so native and green runs never share files.
run_one() {
  local label=$1 mode=$2 rc=0
  shift 2
  local base="$TMP/$label.$mode"
  mkdir -p "$base.d"
  # In the background and waited for, so that a TERM from meson runs the exit trap at once.
  G="$TMP/bin/$mode" W="$base.d" "${RUN_TIMEOUT[@]}" "$@" <"${STDIN:-/dev/null}" \
    >"$base.out" 2>"$base.err" &
  RUN_PID=$!
  wait "$RUN_PID" || rc=$?
  RUN_PID=
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

# At most `max`: e.g. hubs, one per OS thread that made a green call, so a program whose
# threads are green threads shows few however many threads it runs.
expect_stat_at_most() {
  local label=$1 key=$2 max=$3 value
  value=$(stat_value "$label" "$key")
  if [[ -n $value ]] && ((value <= max)); then
    pass "$label: $key=$value <= $max"
  else
    fail "$label: expected $key <= $max in the green run's stats, got '${value:-none}'"
  fi
}

finish() {
  echo "$CHECKS checks, $FAILURES failed"
  ((FAILURES == 0))
}
