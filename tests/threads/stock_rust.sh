#!/usr/bin/env bash
# A Rust program from Debian, ripgrep, searching with 4 threads under green-run: as green threads
# (Rust's standard library keeps each thread's identity in __thread storage, which needs a TCB
# per green thread), and with GREEN_THREADS=native, where they are OS threads and the program's
# blocking calls still pass through the library. The matches must equal the native run's.
# shellcheck source=../stock/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../stock/lib.sh" "$@"

mkdir "$TMP/tree"
export TMP  # the snippets below run in a shell of their own
python3 - "$TMP/tree" <<'EOF_PY'
import os, random, sys
rng = random.Random(20261202)
for d in range(8):
    os.makedirs(f"{sys.argv[1]}/d{d}")
    for f in range(40):
        with open(f"{sys.argv[1]}/d{d}/f{f}.txt", "w") as out:
            for _ in range(rng.randint(50, 400)):
                out.write(" ".join(rng.choice(["green", "thread", "hub", "fiber", "park"])
                                   for _ in range(8)) + "\n")
EOF_PY

run_both_sh ripgrep-green-threads '
  "$G" rg -j4 -c "green hub" "$TMP/tree" | sort; echo "exit ${PIPESTATUS[0]}"'
expect_stat ripgrep-green-threads fibers 5
expect_stat_at_most ripgrep-green-threads hubs 1
run_both_sh ripgrep-native-threads '
  GREEN_THREADS=native "$G" rg -j4 -c "green hub" "$TMP/tree" | sort; echo "exit ${PIPESTATUS[0]}"'
run_both_sh ripgrep-no-match '
  GREEN_THREADS=native "$G" rg -j4 -c "nothing like this" "$TMP/tree"; echo "exit $?"'

finish
