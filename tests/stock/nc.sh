#!/usr/bin/env bash
# nc (netcat-openbsd) green as a client and as a listener, data both ways, with a half-close:
# -N shuts down the socket's writing at EOF on stdin, and the other direction goes on.
# A listening nc quits once its peer stops sending, so as a listener it is the side that stops
# sending first (that is nc's behaviour, native or green).
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
# shellcheck source=halfclose.sh
. "$HERE/halfclose.sh"

# green nc as the client: it stops sending first, then receives the server's late reply
run_both_sh client-first '
  peer_listen client-first
  pattern client | "$G" nc -N 127.0.0.1 $BACK >"$W/got"
  echo "nc exit $?"
  check_bytes server "$W/got"
  peer_done'

# green nc as the client: the server stops sending first, nc sends 0.3 s later
run_both_sh client-server-first '
  peer_listen server-first
  { sleep 0.3; pattern client; } | "$G" nc -N 127.0.0.1 $BACK >"$W/got"
  echo "nc exit $?"
  check_bytes server "$W/got"
  peer_done'

# green nc as the listener, a native client
run_both_sh listener-server-first '
  port=$(free_port)
  pattern server | "$G" nc -N -l 127.0.0.1 $port >"$W/got" &
  listener=$!
  wait_listen $port
  peer_connect $port server-first
  wait $listener; echo "nc exit $?"
  check_bytes client "$W/got"'

# both ends green
run_both_sh both-green '
  port=$(free_port)
  pattern server | "$G" nc -N -l 127.0.0.1 $port >"$W/got-listener" &
  listener=$!
  wait_listen $port
  { sleep 0.3; pattern client; } | "$G" nc -N 127.0.0.1 $port >"$W/got-client"
  echo "client nc exit $?"
  wait $listener; echo "listener nc exit $?"
  check_bytes server "$W/got-client"
  check_bytes client "$W/got-listener"'

# nothing listens: the same message and status
closed=$(free_port)
run_both refused nc -N 127.0.0.1 "$closed"

finish
