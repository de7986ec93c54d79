#!/usr/bin/env bash
# The C TLS echo server and client of tests/tls (a pthread per connection, blocking OpenSSL
# calls), both native, then both under green-run: wall time of the whole exchange and the peak
# OS threads of the server and of the client (Threads: in /proc/PID/status, sampled every 5 ms).
# Figures only: nothing passes or fails, except a run whose bytes came back wrong.
#
#   tools/bench/stock/tls_echo.sh [BUILD_DIR [CONNECTIONS [BYTES [ROUNDS]]]]
#
# Defaults: build/, 500 connections (all open at once), 100000 bytes each, 2 rounds alternating.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
connections=${2:-500}
bytes=${3:-100000}
rounds=${4:-2}
green_run=$build/tools/green-run/green-run
server=$build/tests/tls/tls_echo_server
client=$build/tests/tls/tls_echo_client
for f in "$green_run" "$server" "$client"; do
  [[ -x $f ]] || { echo "tls_echo.sh: $f is missing; ninja -C $build" >&2; exit 1; }
done
export PATH="/usr/bin:/bin:$PATH"

tmp=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null

# peak_threads PID FILE: samples PID's thread count until it exits; writes the peak to FILE.
peak_threads() {
  local peak=0 n
  while n=$(awk '/^Threads:/ { print $2 }' "/proc/$1/status" 2>/dev/null) && [[ -n $n ]]; do
    ((n > peak)) && peak=$n
    sleep 0.005
  done
  echo "$peak" >"$2"
}

run() {
  local mode=$1 wrap=() port start end server_pid client_pid rc=0
  [[ $mode == green ]] && wrap=("$green_run")
  rm -f "$tmp/port"
  # green-run execs the program, so $! is the server (and the client) itself.
  "${wrap[@]}" "$server" "$tmp/cert.pem" "$tmp/key.pem" "$tmp/port" "$connections" \
    >"$tmp/server.out" 2>"$tmp/server.err" &
  server_pid=$!
  pids+=("$server_pid")
  peak_threads "$server_pid" "$tmp/server.peak" &
  for _ in $(seq 200); do [[ -s $tmp/port ]] && break; sleep 0.05; done
  port=$(<"$tmp/port")
  start=$(date +%s.%N)
  "${wrap[@]}" "$client" "$port" "$connections" "$bytes" "$tmp/cert.pem" \
    >"$tmp/client.out" 2>"$tmp/client.err" &
  client_pid=$!
  pids+=("$client_pid")
  peak_threads "$client_pid" "$tmp/client.peak" &
  wait "$client_pid" || rc=$?
  end=$(date +%s.%N)
  wait "$server_pid" || rc=$?
  wait
  local verdict="every byte verified"
  ((rc == 0)) || verdict="FAILED: $(head -c 200 "$tmp/client.err" "$tmp/server.err" | tr '\n' ' ')"
  awk -v m="$mode" -v s="$start" -v e="$end" -v c="$connections" -v b="$bytes" \
    -v sp="$(<"$tmp/server.peak")" -v cp="$(<"$tmp/client.peak")" -v v="$verdict" 'BEGIN {
      t = e - s
      printf "| %s | %.2f s | %.1f MB/s | %d | %d | %s |\n", m, t, c * b * 2 / t / 1e6, sp, cp, v
    }'
}

echo "tests/tls echo: $connections concurrent TLS connections x $bytes bytes each way," \
  "$rounds rounds alternating, $(date -u +%F)"
echo
echo "| run | wall time (handshakes + echo) | payload both ways | server peak OS threads | client peak OS threads | result |"
echo "|---|---|---|---|---|---|"
for ((i = 0; i < rounds; i++)); do
  run native
  run green
done
