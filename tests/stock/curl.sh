#!/usr/bin/env bash
# curl green (it waits in poll(), which passes through for now) against a native HTTP server.
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

mkdir "$TMP/www"
head -c 1048576 /dev/urandom >"$TMP/www/random.bin"
printf 'hello from a native http.server\n' >"$TMP/www/hello.txt"
port=$(free_port)
start_server http "$port" python3 -m http.server --bind 127.0.0.1 --directory "$TMP/www" "$port"
export URL="http://127.0.0.1:$port"

# curl's connect error names the milliseconds it took; those may differ.
no_ms() { sed -E 's/after [0-9]+ ms/after N ms/'; }
ERR_FILTER=no_ms

run_both_sh download-1mib '"$G" curl -sS -o "$W/out" "$URL/random.bin"; echo "exit $?"; sha256sum <"$W/out"'
run_both small-file-to-stdout curl -sS "$URL/hello.txt"
run_both not-found curl -sS -f "$URL/missing"
run_both_sh download-piped '"$G" curl -sS "$URL/random.bin" | sha256sum'

closed=$(free_port)
run_both closed-port curl -sS "http://127.0.0.1:$closed/"
if [[ $(<"$TMP/closed-port.green.rc") == 7 ]]; then
  pass "closed-port: exit 7"
else
  fail "closed-port: green exit $(<"$TMP/closed-port.green.rc"), expected 7"
fi

finish
