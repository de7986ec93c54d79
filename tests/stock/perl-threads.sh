#!/usr/bin/env bash
# perl with ithreads green: the main thread takes SIGTERM and SIGINT from another process while
# worker threads, which Perl starts with every signal blocked, wait on a queue
# (tests/stock/perl_threads.pl).
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

run_both perl-threads perl "$HERE/perl_threads.pl"
expect_stat perl-threads parks 4

finish
