#!/usr/bin/env bash
# python3 green: socketpair, loopback TCP, a native echo server, a sleep, a refused connect; and a
# program mixing threads, sockets, select/selectors and time.sleep (mixed.py).
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

echo_port=$(free_port)
start_server echo "$echo_port" socat "TCP-LISTEN:$echo_port,bind=127.0.0.1,reuseaddr,fork" PIPE
closed_port=$(free_port)

run_both sockets-and-sleep python3 "$HERE/python.py" "$echo_port" "$closed_port"
expect_stat sockets-and-sleep parks 1
expect_stat sockets-and-sleep sleeps 1

# Threads, a selectors event loop, select.select, socket timeouts and time.sleep in one program.
run_both mixed-threads-select python3 "$HERE/mixed.py"
expect_stat mixed-threads-select sleeps 1

finish
