#!/usr/bin/env python3
"""tools/dev demo: what a user gains, on an unmodified thread-per-connection server.

usage: demo.py BUILD_DIR

The server is the project's own benchmark echo server (tools/bench/echo_threads.c: a blocking
accept loop, one pthread per connection, blocking read and write). It runs twice, natively
and under green-run, each time loaded by tools/demo/demo_load with the same connections, all
held open at once, every reply checked byte for byte. Printed side by side: replies verified,
the server's OS threads (peak), its memory (peak RSS, and the kernel's share that RSS leaves
out: page tables and a 16 KiB kernel stack per OS thread), throughput and p99 latency. The last line is the
verdict, "verdict: ok: ..." or "verdict: FAILED: ...".

DEMO_SIZE (default 3000) is the number of concurrent connections, DEMO_ROUNDS (default 50)
the round trips each makes. When this machine cannot give one process that many native
threads (pid, thread, cgroup, fd, map-count or memory limits), the demo says which limit and
scales down; if the native server still cannot create its threads, it halves the size and
tries again. It exits 1 only if the verdict is FAILED.
"""
import os
import resource
import signal
import subprocess
import sys
import time

DEFAULT_SIZE = 3000
DEFAULT_ROUNDS = 50
MIN_SIZE = 50


def read_int(path):
    try:
        with open(path) as f:
            v = f.read().strip()
        return None if v == "max" else int(v.split()[0])
    except (OSError, ValueError, IndexError):
        return None


def threads_in_use():
    # The fourth field of /proc/loadavg is running/total scheduling entities.
    try:
        with open("/proc/loadavg") as f:
            return int(f.read().split()[3].split("/")[1])
    except (OSError, ValueError, IndexError):
        return 0


def native_capacity():
    """How many threads one more process can make here, and what limits it."""
    margin = 200
    used = threads_in_use()
    limits = []
    for name, path in (("kernel.pid_max", "/proc/sys/kernel/pid_max"),
                       ("kernel.threads-max", "/proc/sys/kernel/threads-max")):
        v = read_int(path)
        if v:
            limits.append((v - used - margin, name))
    pids_max = read_int("/sys/fs/cgroup/pids.max")
    if pids_max:
        current = read_int("/sys/fs/cgroup/pids.current") or used
        limits.append((pids_max - current - margin, "the cgroup's pids.max"))
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    if soft != resource.RLIM_INFINITY and os.geteuid() != 0:
        limits.append((soft - used - margin, "RLIMIT_NPROC (ulimit -u)"))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        limits.append((hard - 64, "RLIMIT_NOFILE's hard limit"))
    maps = read_int("/proc/sys/vm/max_map_count")
    if maps:
        limits.append((maps // 2 - 500, "vm.max_map_count (two maps per thread stack)"))
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1])
    except OSError:
        pass
    if avail:
        # A blocked native thread costs about 40 KiB (stack pages, page tables, kernel
        # stack); keep the demo under a quarter of what is free.
        limits.append((avail // 4 // 40, "available memory"))
    return min(limits) if limits else (DEFAULT_SIZE, "")


def status_field(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def pin(cpu):
    def apply():
        try:
            if os.cpu_count() and os.cpu_count() > 1:
                os.sched_setaffinity(0, {cpu})
        except OSError:
            pass
    return apply


def run_once(argv, load, size, rounds):
    """Starts the server, loads it, stops it. Returns (dict of figures, server stderr)."""
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              preexec_fn=pin(0), start_new_session=True)
    try:
        port = server.stdout.readline().strip()
        if not port.isdigit():
            return None, server.stderr.read().decode(errors="replace") if server.poll() is not None else "no port"
        started = time.monotonic()
        done = subprocess.run([load, port.decode(), str(size), str(rounds), str(server.pid)],
                              capture_output=True, text=True, preexec_fn=pin(1), timeout=120)
        wall = time.monotonic() - started
    except subprocess.TimeoutExpired:
        return None, "the load did not finish in 120 s"
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            _, err = server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            _, err = server.communicate()
    fig = {}
    for item in done.stdout.split():
        k, _, v = item.partition("=")
        try:
            fig[k] = float(v)
        except ValueError:
            pass
    fig["ok"] = done.returncode == 0
    fig["wall"] = wall
    return fig, (err or b"").decode(errors="replace") + done.stderr


def mib(kb):
    return "%.0f MiB" % (kb / 1024.0)


KERNEL_STACK_KB = 16  # THREAD_SIZE on x86-64


def kernel_kb(f):
    return f["server_pte_max_kb"] + KERNEL_STACK_KB * f["server_threads_max"]


def memory_kb(f):
    return f["server_peak_rss_kb"] + kernel_kb(f)


def ms(us):
    return "%.2f ms" % (us / 1000.0)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    build = sys.argv[1]
    server_exe = os.path.join(build, "tools/bench/echo_threads")
    load = os.path.join(build, "tools/demo/demo_load")
    green_run = os.path.join(build, "tools/green-run/green-run")
    for p in (server_exe, load, green_run):
        if not os.access(p, os.X_OK):
            print("verdict: FAILED: %s was not built" % p)
            return 1
    size = int(os.environ.get("DEMO_SIZE", DEFAULT_SIZE))
    rounds = int(os.environ.get("DEMO_ROUNDS", DEFAULT_ROUNDS))

    print("The program: %s, a thread-per-connection echo server (blocking accept, one"
          % "tools/bench/echo_threads")
    print("pthread per connection, blocking read and write), unmodified. The load: %d" % size)
    print("connections held open at once, %d round trips of 64 bytes each, every reply" % rounds)
    print("checked byte for byte (tools/demo/demo_load, one epoll thread, run natively).")
    cap, why = native_capacity()
    if size > cap:
        new = max(MIN_SIZE, cap)
        print("\nThis machine cannot give one process %d native threads (%s allows about %d):"
              % (size, why, max(cap, 0)))
        print("scaling down to %d connections." % new)
        size = new

    while True:
        print("\n== native: %s (%d connections)" % (os.path.basename(server_exe), size))
        native, nerr = run_once([server_exe], load, size, rounds)
        if native and native["ok"]:
            break
        reason = (nerr or "").strip().splitlines()[-1:] or ["the load did not complete"]
        if size // 2 < MIN_SIZE:
            print("the native server could not serve %d connections: %s" % (size, reason[0]))
            break
        print("the native server could not serve %d connections (%s): halving the size."
              % (size, reason[0]))
        size //= 2
    print("   done in %.1f s" % native["wall"] if native else "   no result")

    print("== green: green-run %s (%d connections)" % (os.path.basename(server_exe), size))
    green, gerr = run_once([green_run, server_exe], load, size, rounds)
    print("   done in %.1f s" % green["wall"] if green else "   no result: " + gerr.strip())

    rows = [("connections, all open at once", lambda f: "%d" % f["connected"]),
            ("replies verified", lambda f: "%d, %d bad" % (f["verified"], f["bad"])),
            ("server OS threads (peak)", lambda f: "%d" % f["server_threads_max"]),
            ("server memory (peak RSS)", lambda f: mib(f["server_peak_rss_kb"])),
            ("  + page tables, kernel stacks", lambda f: mib(kernel_kb(f))),
            ("throughput", lambda f: "%.0f round trips/s" % f["rps"]),
            ("latency p50 / p99", lambda f: "%s / %s" % (ms(f["p50_us"]), ms(f["p99_us"])))]
    print("\n%-32s %-24s %-24s" % ("", "native", "green-run"))
    for label, show in rows:
        cells = []
        for f in (native, green):
            try:
                cells.append(show(f) if f else "-")
            except KeyError:
                cells.append("-")
        print("%-32s %-24s %-24s" % (label, cells[0], cells[1]))
    print()

    problems = []
    for name, f, err in (("native", native, nerr), ("green", green, gerr)):
        if not f or not f["ok"]:
            problems.append("the %s run did not verify every reply (%s)"
                            % (name, (err or "no result").strip().splitlines()[-1:] or ""))
    if not problems and green["server_threads_max"] >= native["server_threads_max"]:
        problems.append("the green server used as many OS threads as the native one")
    if problems:
        print("verdict: FAILED: " + "; ".join(problems))
        return 1
    print("verdict: ok: every reply verified both ways; green-run served %d connections on %d "
          "OS thread%s instead of %d, in %.2fx the memory (RSS and kernel), at %.2fx the throughput and %.2fx "
          "the p99 latency"
          % (size, green["server_threads_max"], "" if green["server_threads_max"] == 1 else "s",
             native["server_threads_max"],
             memory_kb(green) / max(memory_kb(native), 1),
             green["rps"] / max(native["rps"], 1), green["p99_us"] / max(native["p99_us"], 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
