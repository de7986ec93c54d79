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

finish
