#!/usr/bin/env bash
# Debian's multithreaded compressors under green-run: xz -T4 (compression and, in xz 5.4,
# decompression on 4 threads) and zstd -T4, on 16 MiB cut into 1 MiB blocks so every worker
# thread gets work. Their output for a given thread count does not depend on scheduling, so the
# green bytes must equal the native ones, and each must decompress to the input.
# shellcheck source=../stock/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../stock/lib.sh" "$@"

input="$TMP/input"
python3 - "$input" <<'EOF_PY'
import random, sys
rng = random.Random(20261122)
words = [("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))))
         for _ in range(5000)]
size = 16 << 20
with open(sys.argv[1], "w") as f:
    n = 0
    while n < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 14))) + "\n"
        f.write(line)
        n += len(line)
EOF_PY

# roundtrip LABEL: the green run's output of LABEL equals the input.
roundtrip() {
  if cmp -s "$input" "$TMP/$1.green.out"; then
    pass "$1: the green run gave back the input"
  else
    fail "$1: the green run did not give back the input"
  fi
}

run_both xz-compress xz -T4 -1 --block-size=1MiB -c "$input"
cp "$TMP/xz-compress.native.out" "$TMP/input.xz"
# The file has one block per MiB, which the 4 threads compressed in parallel natively.
blocks=$(xz --robot -l "$TMP/input.xz" | awk '$1 == "totals" { print $3 }')
if ((blocks >= 16)); then
  pass "xz-compress: $blocks blocks, work for all 4 threads"
else
  fail "xz-compress: $blocks blocks, expected at least 16"
fi
run_both xz-decompress xz -T4 -d -c "$TMP/input.xz"
roundtrip xz-decompress
cp "$TMP/xz-compress.green.out" "$TMP/green.xz"
run_both xz-decompress-green-made xz -T4 -d -c "$TMP/green.xz"
roundtrip xz-decompress-green-made

run_both zstd-compress zstd -T4 -3 -B1MiB -c "$input"
cp "$TMP/zstd-compress.green.out" "$TMP/green.zst"
run_both zstd-decompress zstd -d -c "$TMP/green.zst"
roundtrip zstd-decompress

finish
