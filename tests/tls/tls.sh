#!/usr/bin/env bash
# The C TLS echo server (a pthread per connection, blocking SSL_read/SSL_write on blocking
# sockets) and its client (a pthread per connection, hundreds at once, every byte verified),
# both native, then both under green-run; their transcripts and exit statuses are compared.
#   tls.sh GREEN_RUN LIBGREEN_SO TLS_ECHO_SERVER TLS_ECHO_CLIENT
# shellcheck source=../stock/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../stock/lib.sh" "$@"
SERVER=$(realpath "$3")
CLIENT=$(realpath "$4")
export SERVER CLIENT

make_cert "$TMP/cert"
export CERT=$TMP/cert/cert.pem KEY=$TMP/cert/key.pem

# echo_case LABEL CONNECTIONS BYTES
echo_case() {
  export CONNECTIONS=$2 BYTES=$3
  run_both_sh "$1" '
    "$G" "$SERVER" "$CERT" "$KEY" "$W/port" $CONNECTIONS >"$W/server.out" &
    server=$!
    port=$(wait_file "$W/port")
    "$G" "$CLIENT" $port $CONNECTIONS $BYTES "$CERT"
    echo "client exit $?"
    wait $server
    echo "server exit $?"
    cat "$W/server.out"'
}

echo_case one-connection 1 1000000
echo_case connections-300 300 50000
expect_stat connections-300 parks 300
# 300 connection threads in each process, all green threads on the main thread's hub.
expect_stat_at_most connections-300 hubs 2

# A client that does not trust the certificate: its handshakes fail the same way green.
run_both_sh untrusted-certificate '
  make_cert "$W/other" >/dev/null
  "$G" "$SERVER" "$CERT" "$KEY" "$W/port" 1 >"$W/server.out" 2>/dev/null &
  server=$!
  port=$(wait_file "$W/port")
  "$G" "$CLIENT" $port 1 1000 "$W/other/cert.pem" 2>"$W/client.err"
  echo "client exit $?"
  # OpenSSL'"'"'s error lines name the thread; only the verdict is compared.
  grep -o "client 0: handshake failed" "$W/client.err"
  grep "^libgreen: stats: " "$W/client.err" >&2
  wait $server
  echo "server exit $?"
  cat "$W/server.out"'

finish
