#!/usr/bin/env bash
# curl and wget green against a native HTTP server: single fetches, --parallel, a recursive wget.
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

# Forty files fetched over up to 20 connections at once (curl's multi interface in one thread).
# (--parallel draws its progress meter even with -s.)
for i in $(seq 1 40); do head -c $((i * 5000)) /dev/urandom >"$TMP/www/part$i.bin"; done
run_both_sh parallel-40 '
  "$G" curl -sS --no-progress-meter --parallel --parallel-max 20 -o "$W/part#1.bin" "$URL/part[1-40].bin"
  echo "exit $?"
  cd "$W" && for i in $(seq 1 40); do sha256sum "part$i.bin"; done'
# One of them missing: curl goes on with the others and reports the failure.
run_both_sh parallel-one-missing '
  "$G" curl -sS --no-progress-meter -f --parallel -o "$W/part#1.bin" "$URL/part[39-41].bin"
  echo "exit $?"
  cd "$W" && ls && sha256sum part39.bin part40.bin'

# wget: a file, a recursive fetch of the directory listing and what it links, a 404.
run_both_sh wget-file '"$G" wget -q -O "$W/out" "$URL/random.bin"; echo "exit $?"; sha256sum <"$W/out"'
run_both_sh wget-recursive '
  "$G" wget -q -r -np -nH -P "$W/mirror" "$URL/"
  echo "exit $?"
  cd "$W/mirror" && find . -type f | sort | xargs sha256sum'
run_both wget-not-found wget -q -O /dev/null "$URL/missing"

closed=$(free_port)
run_both closed-port curl -sS "http://127.0.0.1:$closed/"
if [[ $(<"$TMP/closed-port.green.rc") == 7 ]]; then
  pass "closed-port: exit 7"
else
  fail "closed-port: green exit $(<"$TMP/closed-port.green.rc"), expected 7"
fi

finish
