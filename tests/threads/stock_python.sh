#!/usr/bin/env bash
# python3 with threading, queue and sockets under green-run: a thread-per-connection server and
# 64 client threads taking 2,000 jobs from a queue.Queue, in one process (py_threads.py).
# shellcheck source=../stock/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../stock/lib.sh" "$@"
THREADS_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

run_both python-threads python3 "$THREADS_HERE/py_threads.py" 64 2000
expect_stat python-threads parks 1
expect_stat python-threads fd_waits 1

finish
