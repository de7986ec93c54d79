#!/usr/bin/env bash
# cat green: regular file to stdout, a pipe stage, a FIFO whose writer pauses, and the pipes'
# O_NONBLOCK flags after a green cat has used them.
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

head -c 5000000 /dev/urandom >"$TMP/random"
export DATA="$TMP/random"

run_both file-to-stdout cat "$DATA"
run_both_sh file-to-pipe '"$G" cat "$DATA" | sha256sum'
run_both_sh pipe-to-pipe 'cat <"$DATA" | "$G" cat | sha256sum'
run_both_sh stdin-redirect '"$G" cat <"$DATA" >"$W/copy" && sha256sum <"$W/copy"'
run_both missing-file cat "$TMP/no-such-file"

# The writer opens the FIFO, writes, pauses, writes again: the green cat must wait for it.
run_both_sh fifo-paused-writer '
  mkfifo "$W/fifo"
  { printf "before the pause\n"; sleep 0.3; printf "after the pause\n"; } >"$W/fifo" &
  "$G" cat "$W/fifo"
  status=$?
  wait
  exit $status'
expect_stat fifo-paused-writer parks 1

# Native parent, green cat between its two pipes: the pipes' flags are unchanged afterwards.
run_both_sh pipe-flags 'python3 "$HERE/pipeflags.py" "$G" cat'
expect_stat pipe-flags parks 1

finish
