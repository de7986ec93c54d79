#!/usr/bin/env bash
# openssl s_server and s_client, both green, over TLS 1.3 with a certificate made for the test:
# short and long line-reversing exchanges (s_server -rev), a client that refuses the certificate,
# and s_server -WWW serving files to a green curl over HTTPS.
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

make_cert "$TMP/cert"
export CERT=$TMP/cert/cert.pem KEY=$TMP/cert/key.pem

# reverse LABEL INPUT_FILE: a green s_server -rev for one connection, a green s_client sending
# INPUT_FILE then CLOSE (which makes the server close the connection).
reverse() {
  export INPUT=$2
  run_both_sh "$1" '
    port=$(free_port)
    "$G" openssl s_server -accept 127.0.0.1:$port -cert "$CERT" -key "$KEY" -naccept 1 -rev \
      -quiet >"$W/server.out" 2>"$W/server.err" &
    server=$!
    wait_listen $port
    { cat "$INPUT"; echo CLOSE; } | "$G" openssl s_client -connect 127.0.0.1:$port \
      -CAfile "$CERT" -verify_return_error -verify_ip 127.0.0.1 -quiet >"$W/client.out"
    echo "s_client exit $?"
    wait $server
    echo "s_server exit $?"
    rev "$INPUT" | cmp - "$W/client.out" && echo "every line came back reversed"
    wc -l <"$W/client.out"
    # the server describes the connection on stderr; the stats lines go on to the comparison
    grep -v "^libgreen: stats: " "$W/server.err"
    grep "^libgreen: stats: " "$W/server.err" >&2
    true'
}

printf 'hello world\nsecond line\n' >"$TMP/short"
reverse rev-short "$TMP/short"
# 4,000 lines of 76 characters (base64 of random bytes), about 300 KB each way.
head -c 225000 /dev/urandom | base64 >"$TMP/long"
reverse rev-long "$TMP/long"

# A client that does not trust the server's certificate: verification fails the same way.
run_both_sh untrusted '
  make_cert "$W/other" >/dev/null
  port=$(free_port)
  "$G" openssl s_server -accept 127.0.0.1:$port -cert "$CERT" -key "$KEY" -naccept 1 -rev \
    -quiet >/dev/null 2>"$W/server.err" &
  server=$!
  wait_listen $port
  echo CLOSE | "$G" openssl s_client -connect 127.0.0.1:$port -CAfile "$W/other/cert.pem" \
    -verify_return_error -quiet 2>"$W/client.err"
  echo "s_client exit $?"
  wait $server
  echo "s_server exit $?"
  grep -o -E "verify error:num=[0-9]+:.*" "$W/client.err"
  grep -h "^libgreen: stats: " "$W/client.err" "$W/server.err" >&2
  true'

# s_server -WWW serves the files of its working directory over HTTPS; curl fetches three.
mkdir "$TMP/www"
head -c 1048576 /dev/urandom >"$TMP/www/random.bin"
printf 'hello over TLS\n' >"$TMP/www/hello.txt"
export WWW=$TMP/www
run_both_sh www-curl '
  port=$(free_port)
  cd "$WWW" && "$G" openssl s_server -accept 127.0.0.1:$port -cert "$CERT" -key "$KEY" \
    -naccept 3 -WWW -quiet >/dev/null 2>"$W/server.err" &
  server=$!
  wait_listen $port
  "$G" curl -sS --cacert "$CERT" "https://127.0.0.1:$port/hello.txt"
  "$G" curl -sS --cacert "$CERT" "https://127.0.0.1:$port/random.bin" | sha256sum
  "$G" curl -sS --cacert "$CERT" -o /dev/null -w "%{http_code}\n" "https://127.0.0.1:$port/missing"
  wait $server
  echo "s_server exit $?"
  grep "^libgreen: stats: " "$W/server.err" >&2
  true'

finish
