#!/usr/bin/env bash
# Processes under green-run: a bash script with pipes, subshells, background jobs and wait;
# socat in fork mode serving many clients at once; timeout and xargs -P running children.
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

# bash: background subshells reaped by `wait`, `wait -n`, `wait PID`, pipelines through
# subshells and builtins, exit statuses through all of them. (Not `wait -n` over many jobs that
# end close together: bash itself loses some of their statuses then, natively too.)
run_both bash-jobs bash -c '
  { (sleep 0.06; echo c) & (sleep 0.02; echo a) & (sleep 0.04; echo b) & wait; } | sort | tr "\n" " "; echo
  sleep 0.05 & p=$!; (sleep 0.01; exit 4) & q=$!
  wait -n; echo "wait -n: $?"
  wait "$p"; echo "wait \$p: $?"
  wait "$q"; echo "wait \$q: $?"
  echo "a b c" | tr a-z A-Z | (read -r x; echo "[$x]") | cat
  { sleep 0.05; echo late; } | (cat; exit 3); echo "pipeline: $? ${PIPESTATUS[*]}"
  x=$( (sleep 0.02; echo inner) | (read -r y; echo "got $y") ); echo "$x"
  pids=(); for i in 1 2 3 4 5 6 7 8; do (sleep 0.0$i; exit $i) & pids+=($!); done
  s=0; for p in "${pids[@]}"; do wait "$p"; s=$((s + $?)); done; echo "sum of statuses: $s"
  wait; echo "all: $?"
'
expect_stat bash-jobs fd_waits 10

# socat forks a child per connection; its SIGCHLD handler reaps them. 40 clients at once, twice.
# (socat waits in select(), which is not green yet: the case shows that fork mode, the children
# and the reaping work under the library, not that the waits park.)
port=$(free_port)
export port
cat >"$TMP/clients.py" <<'PY'
import socket, sys, threading
port, n = int(sys.argv[1]), int(sys.argv[2])
results = [None] * n
def client(i):
    msg = f"client {i} says hello\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(msg)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    results[i] = data == msg.upper()
threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
print(f"{sum(map(bool, results))} of {n} clients got their line back in upper case")
PY
run_both_sh socat-fork '
  "$G" socat TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork SYSTEM:"tr a-z A-Z" & srv=$!
  python3 - "$port" <<PY
import socket, time
deadline = time.monotonic() + 10
while True:
    try:
        socket.create_connection(("127.0.0.1", $port), timeout=1).close(); break
    except OSError:
        if time.monotonic() > deadline: raise
        time.sleep(0.05)
PY
  python3 "$TMP/clients.py" "$port" 40
  python3 "$TMP/clients.py" "$port" 40
  kill "$srv"; wait "$srv"; echo "socat: $?"
'

# timeout waits in sigsuspend with SIGCHLD blocked; its SIGALRM handler kills the child.
run_both_sh timeout-kills '"$G" timeout 0.2 sleep 5; echo "exit $?"'
expect_stat timeout-kills parks 1
run_both_sh timeout-int '"$G" timeout -s INT 0.1 sleep 5; echo "exit $?"'
run_both timeout-status timeout 5 sh -c 'sleep 0.1; exit 3'
run_both_sh timeout-child-green '"$G" timeout 5 sh -c "sleep 0.1; echo done"; echo "exit $?"'
expect_stat timeout-child-green parks 1

# xargs -P: three children at a time, reaped as they finish.
run_both_sh xargs-parallel 'printf "%s\n" 5 1 4 2 6 3 | "$G" xargs -P 3 -I{} sh -c "sleep 0.0{}; echo {}" | sort | tr "\n" " "; echo "exit ${PIPESTATUS[1]}"'
expect_stat xargs-parallel fd_waits 3
run_both_sh xargs-status 'printf "%s\n" 1 2 3 | "$G" xargs -P 2 -n 1 sh -c "exit \$0"; echo "exit $?"'

# Tracers: strace and gdb wait for ptrace stops, which no pidfd reports; their waits (with
# __WALL, after ptrace calls) block natively. The tracee is green too (LD_PRELOAD passes on),
# so the stats line its library writes at exit is left out of the trace compared. gdb's worker
# threads are green threads of its one hub, and its main thread waits for their std::future
# results on raw futexes (syscall(SYS_futex)), which park.
run_both_sh strace-writes '"$G" strace -qq -o "$W/trace" -e trace=write -- printf "a\nb\n"
  echo "exit $?"; grep -v "libgreen: stats" "$W/trace"'
run_both strace-follow-forks strace -f -qq -e trace=none -e signal=none -- sh -c 'echo x | cat; exit 3'
if [ -n "${SANITIZER_RUNTIME:-}" ]; then
  # A sanitizer build (tests/meson.build): gdb hangs with the sanitizer's runtime preloaded,
  # without libgreen too.
  echo "skip gdb-run: gdb hangs with the sanitizer runtime preloaded, without libgreen too"
else
  run_both_sh gdb-run '"$G" gdb -q -batch -nx -ex run --args sh -c "exit 4" 2>"$W/err" |
    grep -E "exited" | sed -E "s/process [0-9]+/process N/"; echo "exit ${PIPESTATUS[0]}"
    grep "^libgreen: stats" "$W/err" >&2 || true'
  expect_stat gdb-run futex_waits 1
  expect_stat_at_most gdb-run hubs 1
fi

finish
