#!/usr/bin/env bash
# dd green at either end of a pipe: same bytes, same exit status, same record counts.
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

# dd's stderr has timing figures; only the record counts are compared.
records() { grep -E '^([0-9]+\+[0-9]+ records (in|out)|dd: .*)$' || true; }
ERR_FILTER=records

# Both ends of a pipeline report on stderr as they finish, close together: each gets a file
# of its own, shown writer first, or their lines interleave differently from run to run.
apart='e=$(mktemp -d); trap "rm -r \"\$e\"" EXIT'
shown='s=$?; cat "$e/1" "$e/2" >&2; exit $s'
run_both_sh reader-of-pipe "$apart"'
  dd if=/dev/zero bs=64k count=100 2>"$e/1" | "$G" dd of=/dev/null bs=64k iflag=fullblock 2>"$e/2"
  '"$shown"
run_both_sh writer-to-pipe "$apart"'
  "$G" dd if=/dev/zero bs=64k count=100 2>"$e/1" | dd of=/dev/null bs=64k iflag=fullblock 2>"$e/2"
  '"$shown"
run_both_sh default-bs-reader "$apart"'
  dd if=/dev/zero bs=64k count=100 2>"$e/1" | "$G" dd of=/dev/null 2>"$e/2"
  '"$shown"
head -c 3000000 /dev/urandom >"$TMP/random"
export DATA="$TMP/random"
run_both_sh status-none-middle 'dd if="$DATA" bs=64k status=none | "$G" dd bs=4k status=none | sha256sum'
run_both_sh status-none-both-green \
  '"$G" dd if=/dev/zero bs=64k count=50 status=none | "$G" dd bs=64k iflag=fullblock status=none | sha256sum'
run_both_sh bad-operand '"$G" dd if=/dev/zero bs=0 count=1'
run_both missing-input dd if="$TMP/no-such-file" of=/dev/null

# A reader that starts late: the green writer fills the pipe and must wait.
run_both_sh slow-reader '"$G" dd if=/dev/zero bs=64k count=20 status=none | { sleep 0.3; sha256sum; }'
expect_stat slow-reader parks 1

finish
