#!/usr/bin/env bash
# python3 -m http.server (ThreadingHTTPServer: a thread per connection) green, loaded by many
# concurrent native clients (http_load.py), every response verified; the same load against the
# same server run natively must give the same transcript. Stopped with SIGINT, as a user would.
# tools/bench/stock/http_server.sh measures requests/s and peak OS threads at 1,000 clients.
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

mkdir "$TMP/www"
: >"$TMP/www/empty"
printf 'x' >"$TMP/www/one-byte"
head -c 10000 /dev/urandom >"$TMP/www/ten-kb.bin"
head -c 300000 /dev/urandom >"$TMP/www/three-hundred-kb.bin"
printf 'hello from http.server\n' >"$TMP/www/hello.txt"

# http.server logs a line per request with the time on stderr, and its first line names the
# port: only the rest is compared.
no_request_log() { grep -v -E '^(127\.0\.0\.1 - - \[|Serving HTTP on )' || true; }
ERR_FILTER=no_request_log

# http.server listens with a backlog of 5 (socketserver's request_queue_size). Under a burst of
# hundreds of connects the kernel drops SYNs and final ACKs, and the clients wait for TCP's
# retransmission timers (1 s, 3 s, 7 s... minutes at 200 clients, native or green). The same
# module with a backlog of 1024 measures the server instead.
HTTP_SERVER=(python3 -m http.server)
HTTP_SERVER_BACKLOG=(python3 -c 'import runpy, socketserver, sys
socketserver.TCPServer.request_queue_size = 1024
sys.argv[0] = "http.server"
runpy.run_module("http.server", run_name="__main__", alter_sys=True)')

# load LABEL CLIENTS REQUESTS SERVER...: the server native, then green, each under the same
# load; the load client's transcript and status, the server's exit status and its stderr are
# compared.
load() {
  local label=$1 clients=$2 requests=$3 mode port rc start
  shift 3
  for mode in native green; do
    port=$(free_port)
    start=start_server
    [[ $mode == green ]] && start=start_green_server
    $start "$label-$mode" "$port" "$@" --bind 127.0.0.1 --directory "$TMP/www" "$port"
    rc=0
    "${RUN_TIMEOUT[@]}" python3 "$HERE/http_load.py" "$port" "$TMP/www" "$clients" "$requests" \
      >"$TMP/$label.$mode.out" 2>"$TMP/$label.$mode.load-err" || rc=$?
    stop_server "$label-$mode" INT
    cat "$TMP/$label.$mode.load-err" "$TMP/$label-$mode.log" >"$TMP/$label.$mode.err"
    echo "server exit $(<"$TMP/$label-$mode.rc")" >>"$TMP/$label.$mode.out"
    echo "$rc" >"$TMP/$label.$mode.rc"
  done
  compare "$label"
}

load one-client 1 20 "${HTTP_SERVER[@]}"
load clients-10 10 10 "${HTTP_SERVER[@]}"
expect_stat clients-10 parks 1
load clients-200 200 5 "${HTTP_SERVER_BACKLOG[@]}"
expect_stat clients-200 parks 1

finish
