#!/usr/bin/env bash
# redis-server native and under green-run in the same run, rounds alternating, each loaded by the
# same native redis-benchmark: requests/s per test (median over the rounds) and green/native.
# Figures only: nothing passes or fails, except a benchmark that reported errors.
#
#   tools/bench/stock/redis.sh [BUILD_DIR [REQUESTS [ROUNDS [CLIENTS]]]]
#
# Defaults: build/, 100000 requests per test, 3 rounds, 50 clients. The target of issue 5 is
# green within 10% of native.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
requests=${2:-100000}
rounds=${3:-3}
clients=${4:-50}
tests=set,get,incr,lpush,lpop,sadd,hset
green_run=$build/tools/green-run/green-run
[[ -x $green_run ]] || { echo "redis.sh: $green_run is missing; ninja -C $build" >&2; exit 1; }
export PATH="/usr/bin:/bin:$PATH"

tmp=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run MODE ROUND: one server, one benchmark, its CSV in $tmp/MODE.ROUND.csv.
run() {
  local mode=$1 round=$2 port wrap=()
  port=$(free_port)
  [[ $mode == green ]] && wrap=("$green_run")
  # green-run execs redis-server, so $! is the server.
  "${wrap[@]}" redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$tmp" --logfile "$tmp/$mode.log" &
  server_pid=$!
  for _ in $(seq 100); do redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  timeout 600 redis-benchmark -h 127.0.0.1 -p "$port" --csv -n "$requests" -c "$clients" \
    -t "$tests" >"$tmp/$mode.$round.csv" 2>"$tmp/$mode.$round.err" || true
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

for ((r = 0; r < rounds; r++)); do
  run native "$r"
  run green "$r"
done

echo "redis-server $(redis-server --version | grep -o 'v=[^ ]*'), redis-benchmark -n $requests" \
  "-c $clients, $rounds rounds alternating, $(date -u +%F)"
echo
python3 - "$tmp" "$rounds" <<'EOF'
import csv, glob, os, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
rps = {}          # (mode, test) -> [rps per round]
order = []
problems = []
for mode in ("native", "green"):
    for r in range(rounds):
        path = os.path.join(tmp, f"{mode}.{r}.csv")
        err = open(os.path.join(tmp, f"{mode}.{r}.err")).read()
        text = open(path).read()
        if "error" in (text + err).lower():
            problems.append(f"{mode} round {r}: {(text + err).strip()[:200]}")
        for row in csv.DictReader(text.splitlines()):
            test = row["test"]
            if test not in order:
                order.append(test)
            rps.setdefault((mode, test), []).append(float(row["rps"]))
print("| test | native req/s | green req/s | green/native |")
print("|---|---|---|---|")
ratios = []
for test in order:
    n = statistics.median(rps.get(("native", test), [0]))
    g = statistics.median(rps.get(("green", test), [0]))
    ratio = g / n if n else 0
    ratios.append(ratio)
    print(f"| {test} | {n:,.0f} | {g:,.0f} | {ratio:.2f} |")
if ratios:
    print(f"\ngeometric mean green/native: {statistics.geometric_mean([x for x in ratios if x > 0]):.3f}")
for p in problems:
    print("benchmark reported an error:", p)
sys.exit(1 if problems else 0)
EOF
