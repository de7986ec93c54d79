#!/usr/bin/env bash
# redis-server (an epoll event loop, plus its background threads) native, then green: a redis-cli
# session (also green in the green run) must print the same replies, and a native
# redis-benchmark must finish every test with a figure and no error. Stopped with SIGTERM.
# tools/bench/stock/redis.sh compares the throughput.
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

TESTS=set,get,incr,lpush,lpop,sadd,hset,mset
NTESTS=8
# The quotes are for redis-cli, which splits each line like a shell.
# shellcheck disable=SC2089,SC2090
SESSION='SET greeting hello
APPEND greeting ", world"
GET greeting
INCR counter
INCRBY counter 41
LPUSH list c b a
LRANGE list 0 -1
HSET hash field1 one field2 two
HGETALL hash
GET missing
SET big '"$(head -c 100000 /dev/zero | tr '\0' x)"'
STRLEN big
BOGUS command
DBSIZE'
# shellcheck disable=SC2090
export SESSION

# redis logs with its pid and the time: compared are the exit status and the last line.
for mode in native green; do
  port=$(free_port)
  mkdir -p "$TMP/redis-$mode"
  start=start_server
  [[ $mode == green ]] && start=start_green_server
  $start "redis-$mode" "$port" redis-server --port "$port" --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$TMP/redis-$mode"

  run_one "session-$port" "$mode" bash -c '"$G" redis-cli -h 127.0.0.1 -p '"$port"' <<<"$SESSION"'
  mv "$TMP/session-$port.$mode.out" "$TMP/session.$mode.out"
  mv "$TMP/session-$port.$mode.err" "$TMP/session.$mode.err"
  mv "$TMP/session-$port.$mode.rc" "$TMP/session.$mode.rc"

  # Every test must report a figure; any error line, a missing test or a failure fails the case.
  rc=0
  "${RUN_TIMEOUT[@]}" redis-benchmark -h 127.0.0.1 -p "$port" --csv -n 20000 -c 50 -t "$TESTS" \
    >"$TMP/bench-$mode.csv" 2>"$TMP/bench-$mode.err" || rc=$?
  figures=$(grep -c -E '^"[A-Z]+[^"]*","[0-9.]+",' "$TMP/bench-$mode.csv" || true)
  zero=$(grep -c -E '^"[^"]+","0(\.0+)?",' "$TMP/bench-$mode.csv" || true)
  errors=$(cat "$TMP/bench-$mode.csv" "$TMP/bench-$mode.err" | grep -i -c -E 'error|refused|reset' || true)
  if ((rc == 0 && figures == NTESTS && zero == 0 && errors == 0)); then
    pass "redis-benchmark against the $mode server: $figures tests, no errors ($(
      awk -F'"' '/^"SET"/ { print "SET " $4 " req/s" }' "$TMP/bench-$mode.csv"))"
  else
    fail "redis-benchmark against the $mode server: exit $rc, $figures of $NTESTS figures, $zero zero, $errors error lines"
    cat "$TMP/bench-$mode.csv" "$TMP/bench-$mode.err"
  fi

  stop_server "redis-$mode" TERM
  if [[ $(<"$TMP/redis-$mode.rc") == 0 ]] && tail -n 3 "$TMP/redis-$mode.log" | grep -q 'ready to exit, bye bye'; then
    pass "redis-server $mode: SIGTERM, exit 0"
  else
    fail "redis-server $mode: exit $(<"$TMP/redis-$mode.rc")"
    tail -n 20 "$TMP/redis-$mode.log"
  fi
done
compare session
# redis waits in epoll_wait on non-blocking sockets: nothing of it parks until epoll_wait is made
# green, so only the library's presence is checked.
expect_log_loaded redis-green

finish
