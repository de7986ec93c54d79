#!/usr/bin/env bash
# socat green as a relay, as a client and as a listener, data both ways, with a half-close in each
# direction: after one side shuts down its writing, the other direction goes on (socat -t 5
# gives it time; its default is 0.5 s).
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
# shellcheck source=halfclose.sh
. "$HERE/halfclose.sh"

for order in client-first server-first; do
  export ORDER=$order
  # native client -> green socat -> native server
  run_both_sh "relay-$order" '
    peer_listen $ORDER
    front=$(free_port)
    "$G" socat -t 5 TCP-LISTEN:$front,bind=127.0.0.1,reuseaddr TCP:127.0.0.1:$BACK &
    relay=$!
    wait_listen $front
    peer_connect $front $ORDER
    wait $relay; echo "socat exit $?"
    peer_done'

  # green socat as the client, its stdin and stdout carrying the data
  run_both_sh "client-$order" '
    peer_listen $ORDER
    if [ $ORDER = client-first ]; then pattern client; else sleep 0.3; pattern client; fi \
      | "$G" socat -t 5 - TCP:127.0.0.1:$BACK >"$W/got"
    echo "socat exit $?"
    check_bytes server "$W/got"
    peer_done'

  # green socat as the listener
  run_both_sh "listener-$order" '
    port=$(free_port)
    if [ $ORDER = server-first ]; then pattern server; else sleep 0.3; pattern server; fi \
      | "$G" socat -t 5 TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr - >"$W/got" &
    listener=$!
    wait_listen $port
    peer_connect $port $ORDER
    wait $listener; echo "socat exit $?"
    check_bytes client "$W/got"'
done

# Both ends green: a socat listener and a socat client; the listener stops sending first.
run_both_sh both-green '
  port=$(free_port)
  pattern server | "$G" socat -t 5 TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr - >"$W/got-listener" &
  listener=$!
  wait_listen $port
  { sleep 0.3; pattern client; } | "$G" socat -t 5 - TCP:127.0.0.1:$port >"$W/got-client"
  echo "client socat exit $?"
  wait $listener; echo "listener socat exit $?"
  check_bytes server "$W/got-client"
  check_bytes client "$W/got-listener"'

finish
