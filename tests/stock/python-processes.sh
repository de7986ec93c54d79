#!/usr/bin/env bash
# python3 green: subprocess, signal and os.fork (tests/stock/processes.py).
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

run_both python-processes python3 "$HERE/processes.py"
expect_stat python-processes fd_waits 8

finish
