#!/usr/bin/env bash
# Shells green: dash and bash running a pipeline and a sleep; every child inherits the library.
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

run_both dash-pipeline-sleep sh -c 'echo a | cat; sleep 0.1; echo done'
expect_stat dash-pipeline-sleep parks 1
run_both bash-pipeline-sleep bash -c 'echo a | cat; sleep 0.1; echo done'
expect_stat bash-pipeline-sleep parks 1
run_both dash-exit-status sh -c 'echo out; echo err >&2; false | cat; exit 3'
# bash's read builtin reads its pipe a byte at a time; the writer pauses first.
run_both_sh bash-read-builtin '{ sleep 0.3; echo "a line"; } | "$G" bash -c '\''read -r l; echo "got: $l"'\'''
expect_stat bash-read-builtin parks 1

# Forked shells after the parent has parked once: each command substitution's subshell parks in
# a child that inherited the parent's hub (this hung before forked children dropped it).
run_both bash-nested-substitutions bash -c \
  'a=$(sleep 0.05; echo warm); for i in 1 2 3 4 5; do x=$(y=$(sleep 0.02; echo "$i"); echo "$a $y"); echo "$x"; done'
expect_stat bash-nested-substitutions fd_waits 1
run_both dash-nested-substitutions sh -c \
  'a=$(sleep 0.05; echo warm); for i in 1 2 3; do x=$( (y=$(readlink /nonexistent || echo none); echo "$a $y $i") ); echo "$x"; done'

finish
