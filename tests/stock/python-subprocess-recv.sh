#!/usr/bin/env bash
# python3 green: a thread's sock.recv survives subprocess.run's vfork children, whose
# close_range runs on the parent's memory (tests/stock/subprocess_recv.py).
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

run_both python-subprocess-recv python3 "$HERE/subprocess_recv.py"
expect_stat python-subprocess-recv fd_waits 1

finish
