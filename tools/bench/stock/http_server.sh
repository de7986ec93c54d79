#!/usr/bin/env bash
# python3 -m http.server (a thread per connection) native and under green-run, in the same run,
# each loaded by CLIENTS concurrent native clients (tests/stock/http_load.py, every response
# verified): requests/s and the server's peak OS threads (Threads: in /proc/PID/status, sampled
# every 5 ms). Figures only: nothing passes or fails, except a run whose responses were wrong.
#
#   tools/bench/stock/http_server.sh [BUILD_DIR [CLIENTS [REQUESTS [ROUNDS]]]]
#
# Defaults: build/, 1000 clients, 5 requests each (a new connection each: HTTP/1.0), 2 rounds,
# native and green alternating. The server's listen backlog is raised from socketserver's 5 to
# 1024: with 5, a burst of 1,000 connects measures TCP's SYN retransmission timers.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
clients=${2:-1000}
requests=${3:-5}
rounds=${4:-2}
green_run=$build/tools/green-run/green-run
[[ -x $green_run ]] || { echo "http_server.sh: $green_run is missing; ninja -C $build" >&2; exit 1; }
export PATH="/usr/bin:/bin:$PATH"

tmp=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir "$tmp/www"
printf 'hello\n' >"$tmp/www/hello.txt"
head -c 10000 /dev/urandom >"$tmp/www/ten-kb.bin"
head -c 100000 /dev/urandom >"$tmp/www/hundred-kb.bin"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run MODE: one server, one load; prints "MODE rps peak_threads verified/total".
run() {
  local mode=$1 port wrap=()
  port=$(free_port)
  [[ $mode == green ]] && wrap=("$green_run")
  # The server's own pid: green-run execs python3, so $! is the server.
  "${wrap[@]}" python3 -c 'import runpy, socketserver, sys
socketserver.TCPServer.request_queue_size = 1024
sys.argv[0] = "http.server"
runpy.run_module("http.server", run_name="__main__", alter_sys=True)' \
    --bind 127.0.0.1 --directory "$tmp/www" "$port" >/dev/null 2>&1 &
  server_pid=$!
  python3 - "$port" <<'EOF'
import socket, sys, time
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        break
    except OSError:
        time.sleep(0.05)
EOF
  timeout 1200 python3 "$top/tests/stock/http_load.py" "$port" "$tmp/www" "$clients" "$requests" \
    --pid "$server_pid" --json --request-timeout 240 >"$tmp/result" || true
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  python3 - "$mode" "$tmp/result" <<'EOF'
import json, sys
mode, path = sys.argv[1:]
try:
    r = json.load(open(path))
except ValueError:
    print(f"| {mode} | load client failed | | |")
    sys.exit()
errors = "; errors: " + ", ".join(r["first_errors"]) if r["errors"] else ""
print(f"| {mode} | {r['requests_per_s']:.0f} | {r['peak_threads']} | "
      f"{r['verified']}/{r['requests']} verified in {r['seconds']} s{errors} |")
EOF
}

echo "python3 -m http.server, $clients concurrent clients x $requests requests, $(date -u +%F)"
echo
echo "| server | requests/s | peak OS threads | responses |"
echo "|---|---|---|---|"
for ((i = 0; i < rounds; i++)); do
  run native
  run green
done
