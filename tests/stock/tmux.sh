#!/usr/bin/env bash
# An interactive program in a tmux pane, blocked reading its terminal, interrupted with Ctrl-C;
# and cat killed by Ctrl-C, after which the terminal must be as it was.
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

command -v tmux >/dev/null || { echo "tmux is not installed (tools/dev deps)"; exit 1; }
export TMUX_SOCKET="green-stock-$$"
cleanup_tmux() { tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null || true; }
trap 'cleanup_tmux; cleanup' EXIT

# wait_file PATH: until PATH exists (10 s at most).
cat >"$TMP/bin/wait_file" <<'SH'
#!/bin/sh
i=0
while [ ! -e "$1" ]; do
  i=$((i + 1)); [ "$i" -gt 200 ] && { echo "timed out waiting for $1" >&2; exit 1; }
  sleep 0.05
done
SH
chmod +x "$TMP/bin/wait_file"
export WAIT_FILE="$TMP/bin/wait_file"

# The second pane: Ctrl-C reaches cat and this script, which traps it (a non-interactive bash
# whose foreground child dies of SIGINT would otherwise kill itself with SIGINT too); then the
# terminal's settings and flags are compared with what they were before.
# (Panes get the tmux server's environment: everything comes as arguments.)
cat >"$TMP/bin/cat_pane" <<'SH'
#!/bin/bash
trap true INT
G=$1 W=$2
stty -g >"$W/before"
touch "$W/cat-ready"
"$G" cat 2>"$W/cat-err"
echo "cat: $?" >"$W/cat-status"
stty -g >"$W/after"
python3 -c 'import fcntl, os; print(bool(fcntl.fcntl(0, fcntl.F_GETFL) & os.O_NONBLOCK))' >"$W/nonblock"
touch "$W/cat-done"
SH
chmod +x "$TMP/bin/cat_pane"
export CAT_PANE="$TMP/bin/cat_pane"

# The scenario, run once with "$G" native and once green. The pane's program writes its results
# to files; its stderr (the green stats line) is passed on to this run's stderr at the end.
scenario='
  t="tmux -L $TMUX_SOCKET -f /dev/null"
  $t new-session -d -s "s$$" -x 80 -y 24 \
    "exec \"$G\" python3 \"$HERE/interactive.py\" \"$W/out\" \"$W/ready\" 2>\"$W/err\"" || exit 1
  "$WAIT_FILE" "$W/ready"; sleep 0.3
  $t send-keys -t "s$$" C-c
  "$WAIT_FILE" "$W/ready.2"; sleep 0.3
  $t send-keys -t "s$$" "after" Enter
  for i in $(seq 100); do grep -q "O_NONBLOCK" "$W/out" 2>/dev/null && break; sleep 0.05; done
  cat "$W/out"

  $t new-session -d -s "c$$" -x 80 -y 24 "exec \"$CAT_PANE\" \"$G\" \"$W\""
  "$WAIT_FILE" "$W/cat-ready"; sleep 0.5
  $t send-keys -t "c$$" C-c
  "$WAIT_FILE" "$W/cat-done"
  cat "$W/cat-status"
  cmp -s "$W/before" "$W/after" && echo "terminal settings unchanged" || echo "terminal settings changed"
  echo "O_NONBLOCK on the tty after: $(cat "$W/nonblock")"
  cat "$W/err" "$W/cat-err" >&2
'
export TMUX_SOCKET HERE
# One server for both runs, kept alive by a session of its own (a server whose last session
# ends exits, racing the next new-session).
tmux -L "$TMUX_SOCKET" -f /dev/null new-session -d -s keep "sleep 600"
run_both_sh tmux-ctrl-c "$scenario"
expect_stat tmux-ctrl-c parks 1

finish
