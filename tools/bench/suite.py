#!/usr/bin/python3
"""libgreen's benchmark suite: green threads against native threads and against a raw event loop.

usage: suite.py [--quick | --smoke] [--build DIR] [--out DIR] [--no-pin] [--only SECTIONS]

Every benchmark program is an ordinary C program (tools/bench/*.c) that knows nothing of the
library. Each one runs twice in the same run, natively and with LD_PRELOAD=libgreen.so, and the
ratio is printed. Sections (--only takes a comma-separated list of them):

  micro     pthread create+join; mutex+condvar, pipe and raw futex ping-pong between two threads;
            ready and EAGAIN reads; pthread_sigmask
  blocked   N threads blocked in sleep() and in read() on a socket: time, OS threads, RSS and
            kernel memory (/proc/meminfo deltas) per thread; the first N that fails and why
  echo      a thread-per-connection echo server (one binary, native and green) against a
            hand-written epoll server and a raw libuv server, driven by loadgen
  sleep     usleep and nanosleep accuracy at 10 us, 100 us, 1 ms, 10 ms, and the timeouts of
            ppoll, select and epoll_pwait2 on an empty pipe
  overhead  programs that never block: a CPU loop, sha256sum, gzip
  dns       1,000 concurrent getaddrinfo calls against a delaying DNS server on loopback, in a
            network and mount namespace of their own (needs root and unshare(1))
  syscalls  system calls per operation (a ready read, an EAGAIN read, an F_SETFL among other
            fds' transfers, a blocking round trip between two threads, a getaddrinfo from
            /etc/hosts), counted by strace -f -c at two sizes and differenced (needs strace)
  runtime   the runtime-level fiber figures of bench_runtime (full mode only)

Output: tables on stdout as each section ends; OUT/report.md, OUT/echo.svg (throughput and
memory against connection count) and OUT/results.json. OUT defaults to BUILD/bench.

Pinning (unless --no-pin): every program under test runs on CPU 0 (taskset -c 0), the echo
load generator on CPU 1, so native and green get the same single core.

--smoke runs every program once at tiny sizes and exits 1 if any of them failed; the test
suite uses it so that the programs cannot rot. In the other modes a failure is a figure
(the first N that fails, and why) and the exit status is 0.
"""

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
PYTHON = "/usr/bin/python3"

SIZES = {
    "full": dict(
        create_iterations=3000, pingpong_iterations=30000, reps=7,
        blocked=[1000, 10000, 30000, 100000, 1000000],
        echo=[1, 100, 1000, 10000], echo_warmup=1.0, echo_seconds=3.0,
        sleep_budget=0.3, cpu_steps=400_000_000, sha_mib=128, gzip_mib=24, overhead_reps=9,
        dns_n=1000, dns_delay_ms=20, syscall_ops=1000, runtime=True,
    ),
    "quick": dict(
        create_iterations=1000, pingpong_iterations=10000, reps=5,
        blocked=[1000, 10000],
        echo=[1, 100, 1000, 10000], echo_warmup=0.5, echo_seconds=1.0,
        sleep_budget=0.1, cpu_steps=200_000_000, sha_mib=64, gzip_mib=12, overhead_reps=5,
        dns_n=1000, dns_delay_ms=20, syscall_ops=500, runtime=False,
    ),
    "smoke": dict(
        create_iterations=20, pingpong_iterations=100, reps=2,
        blocked=[20],
        echo=[1, 8], echo_warmup=0.1, echo_seconds=0.2,
        sleep_budget=0.005, cpu_steps=1_000_000, sha_mib=1, gzip_mib=1, overhead_reps=1,
        dns_n=10, dns_delay_ms=10, syscall_ops=20, runtime=False,
    ),
}

# A resolver that runs lookups one after another needs N times the delay (20 s for 1,000
# lookups of 20 ms): bench_dns stops waiting after this long and reports what was pending,
# unless the process is stuck, for instance a hub thread blocked in glibc's resolver so that
# no timer fires; then the suite kills it 30 s later.
DNS_DEADLINE_S = 30

SECTIONS = ["micro", "blocked", "echo", "sleep", "overhead", "dns", "syscalls", "runtime"]

# The targets, from native figures measured on this kind of machine.
TARGETS = {
    "create": 25.0,      # create+join at least 25x faster than native
    "condvar": 50.0,     # ping-pong round trip at least 50x faster
    "memory": 0.25,      # memory per blocked thread at most 1/4 of native
    "blocked_n": 1_000_000,
    "echo_10k_native": 1.8,
    "echo_10k_uv": 0.9,
    "echo_1_native": 0.9,
    "sleep_accuracy": 1.5,
    "overhead": 0.02,
}


# ---------------------------------------------------------------- helpers

def fmt_ns(ns):
    if ns is None:
        return "–"
    if ns < 1e3:
        return f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.1f} µs" if ns < 1e5 else f"{ns / 1e3:.0f} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e9:.2f} s"


def fmt_kib(kib):
    if kib is None:
        return "–"
    if abs(kib) >= 1024 * 10:
        return f"{kib / 1024:.0f} MiB"
    if abs(kib) >= 1024:
        return f"{kib / 1024:.1f} MiB"
    return f"{kib:.1f} KiB"


def fmt_ratio(r, suffix="×"):
    if r is None:
        return "–"
    return f"{r:.2f}{suffix}" if r < 100 else f"{r:.0f}{suffix}"


def fmt_count(n):
    if n is None:
        return "–"
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def parse_kv(line):
    out = {}
    for word in shlex.split(line):
        key, eq, value = word.partition("=")
        if not eq:
            continue
        try:
            out[key] = int(value)
        except ValueError:
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
    return out


def table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def meminfo_kib(field):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


class Failure(Exception):
    pass


# ---------------------------------------------------------------- the runner

class Suite:
    def __init__(self, args):
        self.args = args
        self.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
        self.size = SIZES[self.mode]
        self.build = os.path.abspath(args.build)
        self.bin = os.path.join(self.build, "tools", "bench")
        self.libgreen = os.path.join(self.build, "preload", "libgreen.so")
        self.out = os.path.abspath(args.out or os.path.join(self.build, "bench"))
        self.pin = not args.no_pin
        self.results = {"mode": self.mode, "pinned": self.pin}
        self.report = []      # Markdown sections, in order
        self.problems = []    # what went wrong that should not have (smoke mode fails on these)
        self.notes = []
        for name in ["bench_threads", "bench_blocked", "bench_sleep", "bench_cpu", "bench_dns",
                     "bench_syscalls", "echo_threads", "echo_epoll", "echo_uv", "loadgen"]:
            if not os.access(self.prog(name), os.X_OK):
                sys.exit(f"suite: {self.prog(name)} is missing; build first (tools/dev build)")
        if not os.path.exists(self.libgreen):
            sys.exit(f"suite: {self.libgreen} is missing; build first (tools/dev build)")
        os.makedirs(self.out, exist_ok=True)

    def prog(self, name):
        return os.path.join(self.bin, name)

    def env(self, green):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        for key in list(env):
            if key.startswith("GREEN_"):
                del env[key]
        if green:
            # A sanitizer build's runtime comes right after the library (SANITIZER_RUNTIME).
            env["LD_PRELOAD"] = ":".join(
                p for p in (self.libgreen, os.environ.get("SANITIZER_RUNTIME")) if p)
        return env

    def pinned(self, cmd, cpu):
        return ["taskset", "-c", str(cpu)] + cmd if self.pin else cmd

    def run(self, cmd, green, timeout, cpu=0):
        """Runs cmd to completion: (returncode, stdout, stderr). returncode is None after a
        timeout (the process group is killed)."""
        proc = subprocess.Popen(self.pinned(cmd, cpu), env=self.env(green), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            return None, out or "", err or ""
        return proc.returncode, out or "", err or ""

    def timed(self, cmd, green, timeout, stdout_path):
        """Runs cmd with stdout to a file: (wall seconds, CPU seconds of the child)."""
        with open(stdout_path, "w") as sink:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.monotonic()
            proc = subprocess.Popen(self.pinned(cmd, 0), env=self.env(green), stdout=sink,
                                    stderr=subprocess.PIPE, text=True)
            _, err = proc.communicate(timeout=timeout)
            wall = time.monotonic() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise Failure(f"{' '.join(cmd)}: exit {proc.returncode}: {err.strip()[-300:]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu

    def result_line(self, cmd, green, timeout, key, cpu=0):
        rc, out, err = self.run(cmd, green, timeout, cpu)
        lines = [l for l in out.splitlines() if l.startswith(key + "=")]
        if rc != 0 or not lines:
            why = f"timed out after {timeout:.0f} s" if rc is None else f"exit status {rc}"
            if rc is not None and rc < 0:
                why = f"killed by signal {-rc}"
            last = err.strip().splitlines()[-1] if err.strip() else "no message"
            raise Failure(f"{why}: {last}")
        return parse_kv(lines[-1])

    def emit(self, title, text, notes=()):
        block = f"## {title}\n\n{text}\n"
        for n in notes:
            block += f"\n{n}\n"
        self.report.append(block)
        print(f"\n== {title} ==\n\n{text}")
        for n in notes:
            print(f"\n{n}")
        sys.stdout.flush()

    def problem(self, what):
        self.problems.append(what)
        print(f"suite: {what}", file=sys.stderr)

    # ------------------------------------------------------------ micro

    def micro(self):
        s = self.size
        rows, res = [], {}
        for op, iterations, what in [
            ("create", s["create_iterations"], "pthread_create + pthread_join"),
            ("condvar", s["pingpong_iterations"], "mutex+condvar ping-pong, round trip"),
            ("pipe", s["pingpong_iterations"], "pipe ping-pong, round trip (1 byte each way)"),
            ("futex", s["pingpong_iterations"], "raw futex wait/wake ping-pong, round trip (private)"),
            ("futex-shared", s["pingpong_iterations"],
             "raw futex ping-pong, round trip (shared operations, private memory)"),
            # On a MAP_SHARED word a green wait is the kernel's, on a helper thread.
            ("futex-shm", s["pingpong_iterations"] // 10 or 1,
             "raw futex ping-pong, round trip (shared operations, MAP_SHARED word)"),
            ("ready_read", s["pingpong_iterations"] * 10,
             "read() of 1 byte that is ready (socket), per call"),
            ("eagain_read", s["pingpong_iterations"] * 10,
             "read() on an empty O_NONBLOCK socket (EAGAIN), per call"),
            # Green masks are per green thread: the kernel's changes only with what every
            # green thread of the hub blocks.
            ("sigmask", s["pingpong_iterations"] * 10,
             "pthread_sigmask, per call (one thread)"),
            ("sigmask-open", s["pingpong_iterations"] * 10,
             "pthread_sigmask, per call (another thread leaves the signal open)"),
            # Green, a blocking-mode open is looked at (a stat) for a FIFO when other green
            # threads share the hub.
            ("open", s["pingpong_iterations"] * 2,
             "open + close of a regular file, while another thread waits"),
        ]:
            r = {}
            for flavour in ("native", "green"):
                try:
                    r[flavour] = self.result_line(
                        [self.prog("bench_threads"), op, str(iterations), str(s["reps"])],
                        flavour == "green", 300, "op")["ns"]
                except Failure as e:
                    self.problem(f"micro {op} {flavour}: {e}")
                    r[flavour] = None
            speedup = r["native"] / r["green"] if r["native"] and r["green"] else None
            res[op] = dict(r, speedup=speedup)
            target = TARGETS.get(op)
            rows.append([what, fmt_ns(r["native"]), fmt_ns(r["green"]), fmt_ratio(speedup),
                         f"≥ {target:.0f}×" if target else ""])
        self.results["micro"] = res
        self.emit("Thread micro-benchmarks (median per operation)",
                  table(["measure", "native", "green", "speed-up (native / green)", "target"], rows),
                  [f"{s['reps']} repetitions of {s['create_iterations']} create+join, "
                   f"{s['pingpong_iterations']} round trips and "
                   f"{s['pingpong_iterations'] * 10} reads; the median repetition. The reads "
                   "return at once: green, they stay on the hooks' fast path, which counts each "
                   "toward the green thread's time slice."])

    # ------------------------------------------------------------ blocked

    def explain(self, r, flavour):
        what, error = r.get("what"), r.get("error")
        created = r.get("created")
        if what == "pthread_create" and error == "EAGAIN":
            tasks, pid_max = r.get("tasks", -1), r.get("pid_max", -1)
            maps, max_maps = r.get("maps", -1), r.get("max_map_count", -1)
            threads_max = r.get("threads_max", -1)
            if pid_max > 0 and tasks >= pid_max - 300:
                return (f"pthread_create: EAGAIN after {created:,} threads: pid_max "
                        f"({pid_max:,}), {tasks:,} tasks on the system; {maps:,} of "
                        f"{max_maps:,} mappings (vm.max_map_count) used")
            if max_maps > 0 and maps >= max_maps - 10:
                return (f"pthread_create: EAGAIN after {created:,} threads: vm.max_map_count "
                        f"({max_maps:,} mappings; 2 per guarded stack)")
            if threads_max > 0 and tasks >= threads_max - 300:
                return f"pthread_create: EAGAIN after {created:,} threads: kernel.threads-max ({threads_max:,})"
            return (f"pthread_create: EAGAIN after {created:,} threads ({tasks:,} tasks, {maps:,} "
                    f"mappings: no kernel limit reached; memory?)")
        if what in ("socket", "bind") and error == "EMFILE":
            return (f"{what}: EMFILE with {r.get('fds', 0):,} fds open: RLIMIT_NOFILE hard limit "
                    f"({r.get('nofile', 0):,} fds; one socket per thread)")
        if what == "fds":
            why = (f"all {created:,} threads created, but {r.get('fds', 0):,} of "
                   f"{r.get('nofile', 0):,} fds in use")
            if flavour == "green":
                why += " (the library's: a hub per OS thread holds 7 fds)"
            return why
        return f"{what}: {error} after {created:,}"

    def blocked(self):
        rows, res = [], {}
        for mode in ("sleep", "read"):
            stopped = {"native": None, "green": None}
            last = {"native": None, "green": None}
            res[mode] = {}
            for n in self.size["blocked"]:
                per = {}
                for flavour in ("native", "green"):
                    if stopped[flavour]:
                        per[flavour] = dict(ok=0, skipped=True, why=stopped[flavour])
                        continue
                    available = meminfo_kib("MemAvailable") or 0
                    if last[flavour]:
                        need = last[flavour] * n * 1.2
                        if need > available * 0.75:
                            why = (f"not tried: needs ~{fmt_kib(need)}, "
                                   f"{fmt_kib(available)} available")
                            per[flavour] = dict(ok=0, skipped=True, why=why)
                            stopped[flavour] = why
                            continue
                    # Small sizes three times, keeping the run with the median total: the
                    # system-wide kernel figures move with whatever else the machine does.
                    runs = []
                    for _ in range(3 if n <= 10000 and self.mode != "smoke" else 1):
                        try:
                            r = self.result_line([self.prog("bench_blocked"), mode, str(n)],
                                                 flavour == "green", 180, "mode")
                        except Failure as e:
                            r = dict(ok=0, why=str(e))
                        if not r["ok"]:
                            break
                        r["rss_per_kib"] = r["rss_kb"] / n
                        # Page tables from VmPTE (this process only); slab and kernel stacks
                        # are only counted machine-wide.
                        r["kernel_per_kib"] = (r["slab_kb"] + r["pte_kb"] + r["kernelstack_kb"]) / n
                        r["total_per_kib"] = r["rss_per_kib"] + r["kernel_per_kib"]
                        runs.append(r)
                    if r["ok"]:
                        r = sorted(runs, key=lambda x: x["total_per_kib"])[len(runs) // 2]
                        last[flavour] = max(r["total_per_kib"], 1.0)
                    else:
                        r.setdefault("why", self.explain(r, flavour))
                        stopped[flavour] = f"stopped at {n:,}"
                    per[flavour] = r
                res[mode][n] = per
                for flavour in ("native", "green"):
                    r = per[flavour]
                    if r.get("ok"):
                        rows.append([mode, fmt_count(n), flavour, fmt_ns(r["spawn_ns"]),
                                     f"{r['threads']:,}", fmt_kib(r["rss_per_kib"]),
                                     fmt_kib(r["kernel_per_kib"]), fmt_kib(r["total_per_kib"]), ""])
                    elif not r.get("skipped") or n == self.size["blocked"][0]:
                        rows.append([mode, fmt_count(n), flavour, "–", "–", "–", "–", "–",
                                     f"**fails**: {r['why']}"])
                    elif r.get("skipped") and r["why"].startswith("not tried"):
                        rows.append([mode, fmt_count(n), flavour, "–", "–", "–", "–", "–", r["why"]])
                if self.mode == "smoke":
                    for flavour in ("native", "green"):
                        if not per[flavour].get("ok"):
                            self.problem(f"blocked {mode} {n} {flavour}: {per[flavour].get('why')}")
        self.results["blocked"] = res
        self.emit("N threads blocked at once",
                  table(["blocked in", "N", "", "time until all blocked", "OS threads",
                         "RSS / thread", "kernel / thread", "total / thread", "limit"], rows),
                  ["Kernel memory is the process's page tables (VmPTE) plus the change in Slab and "
                   "KernelStack of /proc/meminfo, which are system-wide: other processes on the "
                   "machine add noise, small N most (N ≤ 10k runs three times; the median is shown). "
                   "Threads have default attributes (8 MiB stacks, as a program gets them). "
                   "Sockets are UDP, one per thread, created before the baseline; the hard limit of "
                   f"{resource.getrlimit(resource.RLIMIT_NOFILE)[1]:,} fds per process stops the "
                   "socket case below it. A size after a failure is not tried."])

    # ------------------------------------------------------------ echo

    SERVERS = [
        ("threads-native", "echo_threads", False, "thread per connection, native"),
        ("threads-green", "echo_threads", True, "thread per connection, green (same binary)"),
        ("epoll", "echo_epoll", False, "hand-written epoll, one thread"),
        ("libuv", "echo_uv", False, "raw libuv, one thread"),
    ]

    def echo_one(self, binary, green, conns):
        s = self.size
        errpath = os.path.join(self.out, "server.stderr")
        with open(errpath, "w") as errfile:
            server = subprocess.Popen(self.pinned([self.prog(binary)], 0), env=self.env(green),
                                      stdout=subprocess.PIPE, stderr=errfile, text=True,
                                      start_new_session=True)
        try:
            port = server.stdout.readline().strip()
            if not port.isdigit():
                raise Failure(f"{binary} did not start: {open(errpath).read().strip()[-300:]}")
            # taskset execs the server in the same process: its pid is the server's.
            r = self.result_line([self.prog("loadgen"), port, str(conns), str(s["echo_warmup"]),
                                  str(s["echo_seconds"]), str(server.pid)],
                                 False, s["echo_warmup"] + s["echo_seconds"] + 120, "conns", cpu=1)
        finally:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        err = open(errpath).read().strip()
        os.unlink(errpath)
        if r["answered"] < conns:
            first = err.splitlines()[0] if err else "no message from the server"
            r["why"] = f"{r['answered']:,} of {conns:,} connections answered ({first})"
        r["cpu_per_rt_us"] = r["server_cpu_s"] * 1e6 / r["rtts"] if r.get("rtts") else None
        return r

    def echo(self):
        rows, res = [], {}
        for conns in self.size["echo"]:
            res[conns] = {}
            for key, binary, green, _ in self.SERVERS:
                try:
                    r = self.echo_one(binary, green, conns)
                except Failure as e:
                    r = dict(why=str(e))
                res[conns][key] = r
                if "why" in r and self.mode == "smoke":
                    self.problem(f"echo {key} {conns}: {r['why']}")
                if r.get("rtts"):
                    rows.append([fmt_count(conns), key, f"{r['rps']:,.0f}", fmt_ns(r["p50_ns"]),
                                 fmt_ns(r["p99_ns"]), f"{r['server_cpu_s']:.2f} s",
                                 f"{r['cpu_per_rt_us']:.1f} µs", fmt_kib(r["server_rss_kb"]),
                                 f"{r['server_threads']:,}", r.get("why", "")])
                else:
                    rows.append([fmt_count(conns), key, "–", "–", "–", "–", "–", "–", "–",
                                 f"**fails**: {r.get('why')}"])
        self.results["echo"] = res
        ratio_rows = []
        for conns in self.size["echo"]:
            def rps(k):
                r = res[conns][k]
                return r.get("rps") if r.get("rtts") and "why" not in r else None
            g, n, e, u = rps("threads-green"), rps("threads-native"), rps("epoll"), rps("libuv")
            ratio_rows.append([fmt_count(conns), fmt_ratio(g / n if g and n else None),
                               fmt_ratio(g / e if g and e else None), fmt_ratio(g / u if g and u else None)])
        s = self.size
        self.emit("Echo servers, 64-byte ping-pong",
                  table(["connections", "server", "round trips/s", "p50", "p99", "server CPU",
                         "server CPU / round trip", "server RSS", "server threads", "note"], rows)
                  + "\n\n" + table(["connections", "green / native threads", "green / epoll",
                                    "green / libuv"], ratio_rows),
                  [f"loadgen (one thread, epoll, one 64-byte message in flight per connection) "
                   "opens the connections, at most 256 waiting for their first echo at a time, "
                   f"starts them all together, and measures {s['echo_seconds']} s after "
                   f"{s['echo_warmup']} s of warm-up. At many connections the load generator, "
                   "itself an epoll loop on the other core, is as busy as the fastest servers: "
                   "their figures are a floor of what they can do. "
                   + ("Server on CPU 0, load generator on CPU 1. " if self.pin else "Not pinned. ")
                   + "Server CPU is utime+stime over the measured window; RSS and threads at its end. "
                   "Plot: echo.svg."])

    # ------------------------------------------------------------ sleep

    def sleep(self):
        res = {}
        for flavour in ("native", "green"):
            rc, out, err = self.run([self.prog("bench_sleep"), str(self.size["sleep_budget"])],
                                    flavour == "green", 120)
            if rc != 0:
                self.problem(f"sleep {flavour}: exit {rc}: {err.strip()[-200:]}")
                continue
            for line in out.splitlines():
                r = parse_kv(line)
                res.setdefault(f"{r['call']} {r['req_ns']}", {})[flavour] = r
        rows = []
        for key, per in res.items():
            call, req = key.split()
            req = int(req)
            n, g = per.get("native"), per.get("green")
            if not n or not g:
                continue
            over_n, over_g = n["median_ns"] - req, g["median_ns"] - req
            ratio = over_g / over_n if over_n > 0 else None
            per["late_ratio"] = ratio
            target = "≤ 1.5×" if req < 1_000_000 and call in ("usleep", "nanosleep") else ""
            rows.append([f"`{call}({fmt_ns(req)})`", fmt_ns(n["median_ns"]), fmt_ns(g["median_ns"]),
                         fmt_ns(n["p99_ns"]), fmt_ns(g["p99_ns"]), fmt_ns(over_n), fmt_ns(over_g),
                         fmt_ratio(ratio), target])
        self.results["sleep"] = res
        self.emit("Sleep and timeout accuracy",
                  table(["call", "native median", "green median", "native p99", "green p99",
                         "native late by", "green late by", "lateness green / native", "target"], rows),
                  ["\"Late by\" is the median minus the request. A native sleep ends up to the "
                   "thread's timer slack (50 µs) late; the target compares the lateness. ppoll, "
                   "select and epoll_pwait2 wait on an empty pipe until their timeout."])

    # ------------------------------------------------------------ overhead

    def overhead(self):
        s = self.size
        tmp = tempfile.mkdtemp(prefix="overhead-", dir=self.out)
        try:
            random_file = os.path.join(tmp, "random.bin")
            with open(random_file, "wb") as f:
                for _ in range(s["sha_mib"]):
                    f.write(os.urandom(1 << 20))
            text_file = os.path.join(tmp, "text.txt")
            with open(text_file, "w") as f:
                line = 0
                while f.tell() < s["gzip_mib"] << 20:
                    f.write("".join(f"line {line + i} of a compressible file, {((line + i) * 2654435761) % 1000003}\n"
                                    for i in range(1000)))
                    line += 1000
            programs = [
                ("CPU loop (bench_cpu)", [self.prog("bench_cpu"), str(s["cpu_steps"])]),
                (f"sha256sum of {s['sha_mib']} MiB", [shutil.which("sha256sum") or "/usr/bin/sha256sum", random_file]),
                (f"gzip -6 of {s['gzip_mib']} MiB of text", [shutil.which("gzip") or "/bin/gzip", "-6", "-c", text_file]),
            ]
            rows, res = [], {}
            for name, cmd in programs:
                walls = {"native": [], "green": []}
                cpus = {"native": [], "green": []}
                outputs = {}
                try:
                    self.timed(cmd, False, 300, os.path.join(tmp, "out"))  # warm the page cache
                    for _ in range(s["overhead_reps"]):
                        for flavour in ("native", "green"):
                            path = os.path.join(tmp, f"out-{flavour}")
                            wall, cpu = self.timed(cmd, flavour == "green", 300, path)
                            walls[flavour].append(wall)
                            cpus[flavour].append(cpu)
                            if "bench_cpu" in cmd[0]:
                                outputs[flavour] = open(path).read().split()[1]
                            else:
                                outputs[flavour] = os.path.getsize(path), open(path, "rb").read(4096)
                except Failure as e:
                    self.problem(f"overhead {name}: {e}")
                    continue
                if outputs["native"] != outputs["green"]:
                    self.problem(f"overhead {name}: output differs under the library")
                # The best run of each: on a shared machine other processes only ever add time.
                wn, wg = min(walls["native"]), min(walls["green"])
                cn, cg = min(cpus["native"]), min(cpus["green"])
                res[name] = dict(wall_native=wn, wall_green=wg, cpu_native=cn, cpu_green=cg,
                                 wall_overhead=wg / wn - 1, cpu_overhead=cg / cn - 1 if cn else None)
                rows.append([name, f"{wn:.3f} s", f"{wg:.3f} s", f"{(wg / wn - 1) * 100:+.1f}%",
                             f"{cn:.3f} s", f"{cg:.3f} s",
                             f"{(cg / cn - 1) * 100:+.1f}%" if cn else "–", "≤ +2%"])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.results["overhead"] = res
        self.emit("Overhead on programs that never block",
                  table(["program", "native wall", "green wall", "wall overhead", "native CPU",
                         "green CPU", "CPU overhead", "target"], rows),
                  [f"Best of {s['overhead_reps']} runs each (other processes on a shared machine only "
                   "ever add time), native and green alternating, whole process including start-up, "
                   "output to a file; the outputs are compared. CPU is user + system time."])

    # ------------------------------------------------------------ dns

    def dns(self):
        s = self.size
        why = None
        if os.geteuid() != 0:
            why = "needs root (a network and mount namespace for its own resolv.conf)"
        elif not shutil.which("unshare") or not shutil.which("ip"):
            why = "needs unshare(1) and ip(8)"
        res = {}
        if not why:
            cmd = ["unshare", "--net", "--mount", PYTHON, os.path.abspath(__file__),
                   "--build", self.build, "--out", self.out]
            if not self.pin:
                cmd.append("--no-pin")
            if self.mode == "smoke":
                cmd.append("--smoke")
            cmd += ["--dns-inner", str(s["dns_n"]), str(s["dns_delay_ms"])]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            if proc.returncode != 0:
                why = f"namespace set-up failed: {proc.stderr.strip()[-300:]}"
                # unshare(1) itself refused, or the namespace could not be set up (exit 3):
                # the machine does not allow it, which is not the benchmark's failure.
                if self.mode == "smoke" and proc.returncode != 3 and "unshare failed" not in proc.stderr:
                    self.problem(f"dns: {why}")
            else:
                res = json.loads(proc.stdout)
        if why:
            self.results["dns"] = dict(skipped=why)
            self.emit("Name resolution", f"Not run: {why}.")
            return
        rows = []
        for flavour in ("native", "green"):
            r = res[flavour]
            if "why" in r:
                rows.append([flavour, "–", "–", "–", "–", "–", f"**fails**: {r['why']}"])
                if self.mode == "smoke":
                    self.problem(f"dns {flavour}: {r['why']}")
                continue
            if (r["failed"] or r["pending"]) and self.mode == "smoke":
                self.problem(f"dns {flavour}: {r['failed']} lookups failed ({r['first_error']}), "
                             f"{r['pending']} pending")
            note = []
            if r["pending"]:
                note.append(f"**{r['pending']:,} still pending** after {DNS_DEADLINE_S} s")
            if r["failed"]:
                note.append(f"{r['failed']:,} failed, first error: {r['first_error']}")
            rows.append([flavour, f"{r['ok']:,} / {r['n']:,}", fmt_ns(r["wall_ns"]), fmt_ns(r["p50_ns"]),
                         fmt_ns(r["p99_ns"]), f"{r['threads']:,}", "; ".join(note)])
        self.results["dns"] = res
        self.emit(f"Name resolution: {s['dns_n']:,} concurrent getaddrinfo calls",
                  table(["", "answered", "wall time", "p50 (finished)", "p99 (finished)",
                         "OS threads", "note"], rows),
                  [f"Each answer is delayed {s['dns_delay_ms']} ms by tools/bench/dns_delay.py on "
                   "127.0.0.1:53, in a network and mount namespace whose /etc/resolv.conf names only "
                   "it; one distinct name per thread (AF_INET, so one A query each)."])

    def dns_inner(self, n, delay_ms):
        """Inside `unshare --net --mount`: loopback up, our resolv.conf, the server, both runs."""
        conf = os.path.join(self.out, "resolv.conf")
        with open(conf, "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:5 attempts:2\n")
        for cmd in (["ip", "link", "set", "lo", "up"], ["mount", "--bind", conf, "/etc/resolv.conf"]):
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{' '.join(cmd)}: {done.stderr.strip()}", file=sys.stderr)
                sys.exit(3)  # the outer suite reports the section as not run
        server = subprocess.Popen([PYTHON, os.path.join(HERE, "dns_delay.py"), "--delay", str(delay_ms)],
                                  stdout=subprocess.PIPE, text=True)
        res = {}
        try:
            if not server.stdout.readline().strip().isdigit():
                raise SystemExit("dns_delay.py did not start")
            for flavour in ("native", "green"):
                try:
                    res[flavour] = self.result_line(
                        [self.prog("bench_dns"), str(n), "bench.test", str(DNS_DEADLINE_S)],
                        flavour == "green", DNS_DEADLINE_S + 30, "n")
                except Failure as e:
                    res[flavour] = dict(why=str(e))
        finally:
            server.terminate()
            server.wait()
            os.unlink(conf)
        print(json.dumps(res))

    # ------------------------------------------------------------ runtime

    def runtime(self):
        if not self.size["runtime"]:
            return
        rc, out, err = self.run([self.prog("bench_runtime")], False, 300)
        if rc != 0:
            self.problem(f"runtime: exit {rc}: {err.strip()[-200:]}")
            return
        rows = "\n".join(l for l in out.splitlines() if l.startswith("|"))
        notes = [l[2:] for l in out.splitlines() if l.startswith("- ")]
        self.results["runtime"] = rows
        self.emit("Runtime level (bench_runtime: fibers on the runtime directly, no preload)",
                  "| measure | native | green | ratio (green / native) |\n|---|---|---|---|\n" + rows,
                  ["Notes: " + " ".join(notes)] if notes else [])

    # ------------------------------------------------------------ syscalls

    SYSCALL_OPS = [
        ("ready_read", "write 1 byte into a socketpair, read it back"),
        ("eagain_read", "read() on an empty O_NONBLOCK socket"),
        ("setfl", "fcntl(F_SETFL) on one socket, a write and a read on two others"),
        ("round_trip", "1-byte round trip to a thread blocked in read(), two socketpairs"),
        ("lookup", "getaddrinfo(\"localhost\") from /etc/hosts, freeaddrinfo"),
    ]

    def syscall_counts(self, op, n, green):
        """{name: calls} for one run of bench_syscalls OP N under strace -f -c."""
        with tempfile.NamedTemporaryFile(prefix="strace-", dir=self.out) as summary:
            cmd = ["strace", "-f", "-qq", "-c", "-U", "name,calls", "-o", summary.name,
                   self.prog("bench_syscalls"), op, str(n)]
            rc, out, err = self.run(cmd, green, 300)
            if rc != 0 or f"op={op}" not in out:
                why = "timed out" if rc is None else f"exit status {rc}"
                raise Failure(f"{why}: {err.strip()[-200:] or 'no message'}")
            counts = {}
            for line in open(summary.name).read().splitlines():
                words = line.split()
                if len(words) == 2 and words[1].isdigit() and words[0] != "total":
                    counts[words[0]] = int(words[1])
            return counts

    def syscalls(self):
        if not shutil.which("strace"):
            self.emit("System calls per operation", "not measured: strace is not installed")
            return
        n = self.size["syscall_ops"]
        rows, res = [], {}
        for op, what in self.SYSCALL_OPS:
            per = {}
            for flavour in ("native", "green"):
                try:
                    small = self.syscall_counts(op, n, flavour == "green")
                    large = self.syscall_counts(op, 2 * n, flavour == "green")
                except Failure as e:
                    self.problem(f"syscalls {op} {flavour}: {e}")
                    per[flavour] = None
                    continue
                # What the extra n operations cost: start-up and set-up cancel out.
                diff = {k: (large.get(k, 0) - small.get(k, 0)) / n for k in set(small) | set(large)}
                per[flavour] = {k: round(v, 2) for k, v in diff.items() if abs(v) >= 0.05}
            res[op] = per

            def show(counts):
                if counts is None:
                    return "–", "–"
                total = sum(counts.values())
                parts = ", ".join(f"{k} {v:g}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
                return f"{total:.2f}".rstrip("0").rstrip("."), parts
            nt, nparts = show(per["native"])
            gt, gparts = show(per["green"])
            rows.append([what, nt, gt, nparts, gparts])
        self.results["syscalls"] = res
        self.emit("System calls per operation",
                  table(["operation", "native", "green", "native calls", "green calls"], rows),
                  [f"Counted with `strace -f -c` (every thread, the library's included) over {n} and "
                   f"{2 * n} operations; the figure is the difference divided by {n}, so start-up "
                   "and one-time set-up do not count. Calls below 0.05 per operation are left out."])

    # ------------------------------------------------------------ summary

    def targets(self):
        rows = []

        def add(what, target, measured, met, note=""):
            rows.append([what, target, measured, "met" if met else ("**missed**" if met is not None else "not measured"), note])

        micro = self.results.get("micro", {})
        for op, what in (("create", "create+join speed-up"), ("condvar", "ping-pong round trip speed-up")):
            if "micro" not in self.results:
                break
            sp = micro.get(op, {}).get("speedup")
            t = TARGETS[op]
            add(what, f"≥ {t:.0f}×", fmt_ratio(sp), sp >= t if sp else None,
                f"{t / sp:.1f}× short" if sp and sp < t else "")

        blocked = self.results.get("blocked", {}).get("sleep", {})
        both = [n for n, per in blocked.items() if per["native"].get("ok") and per["green"].get("ok")]
        if both:
            n = max(both)
            nat, gr = blocked[n]["native"]["total_per_kib"], blocked[n]["green"]["total_per_kib"]
            ratio = gr / nat if nat > 0 else None
            add(f"memory per blocked thread (sleep, N = {n:,})", "≤ 0.25× native",
                f"{fmt_kib(gr)} vs {fmt_kib(nat)} ({ratio:.3f}×)" if ratio else "–",
                ratio <= TARGETS["memory"] if ratio else None,
                f"{(ratio / TARGETS['memory'] - 1) * 100:.1f}% over" if ratio and ratio > TARGETS["memory"] else "")
        elif "blocked" in self.results:
            add("memory per blocked thread", "≤ 0.25× native", "–", None)
        most = {f: max([n for n, per in blocked.items() if per[f].get("ok")], default=0)
                for f in ("native", "green")}
        if blocked:
            add("most blocked threads", "1M green", f"green {most['green']:,}, native {most['native']:,}",
                most["green"] >= TARGETS["blocked_n"],
                "" if most["green"] >= TARGETS["blocked_n"] else
                ("sizes up to 1M not run in this mode" if max(blocked) < TARGETS["blocked_n"] else ""))

        echo = self.results.get("echo", {})

        def rps(conns, key):
            r = echo.get(conns, {}).get(key, {})
            return r.get("rps") if r.get("rtts") and "why" not in r else None
        if echo:
            top = max(echo)
            g, n, u = rps(top, "threads-green"), rps(top, "threads-native"), rps(top, "libuv")
            r1 = g / n if g and n else None
            def short(r, t):
                return f"{(1 - r / t) * 100:.0f}% short" if r and r < t else ""
            add(f"echo at {top:,} connections vs native threads", "≥ 1.8×", fmt_ratio(r1),
                r1 >= TARGETS["echo_10k_native"] if r1 else (False if n else None),
                short(r1, TARGETS["echo_10k_native"]) if r1 else ("green server failed" if n else ""))
            r2 = g / u if g and u else None
            add(f"echo at {top:,} connections vs raw libuv", "≥ 0.9×", fmt_ratio(r2),
                r2 >= TARGETS["echo_10k_uv"] if r2 else (False if u else None),
                short(r2, TARGETS["echo_10k_uv"]) if r2 else ("green server failed" if u else ""))
            g1, n1 = rps(1, "threads-green"), rps(1, "threads-native")
            r3 = g1 / n1 if g1 and n1 else None
            add("echo, one connection vs native", "≥ 0.9×", fmt_ratio(r3),
                r3 >= TARGETS["echo_1_native"] if r3 else None, short(r3, TARGETS["echo_1_native"]))

        sleep = self.results.get("sleep", {})
        for key in ("usleep 10000", "usleep 100000", "nanosleep 10000", "nanosleep 100000"):
            ratio = sleep.get(key, {}).get("late_ratio")
            if key in sleep:
                call, req = key.split()
                add(f"`{call}({fmt_ns(int(req))})` lateness vs native", "≤ 1.5×", fmt_ratio(ratio),
                    ratio <= TARGETS["sleep_accuracy"] if ratio is not None else None,
                    f"{ratio / TARGETS['sleep_accuracy']:.1f}× over" if ratio and ratio > TARGETS["sleep_accuracy"] else "")

        for name, r in self.results.get("overhead", {}).items():
            o = r["wall_overhead"]
            add(f"overhead: {name}", "≤ +2%", f"{o * 100:+.1f}%", o <= TARGETS["overhead"],
                f"{(o - TARGETS['overhead']) * 100:.1f} points over" if o > TARGETS["overhead"] else "")
        self.emit("Targets", table(["target", "wanted", "measured", "", "by how much"], rows))

    def threads_note(self):
        """Says what "green" means for this build, from what was measured."""
        blocked = self.results.get("blocked", {}).get("sleep", {})
        for n, per in sorted(blocked.items()):
            g = per["green"]
            if g.get("ok"):
                if g["threads"] >= n:
                    return (f"**In this build, green pthreads are still OS threads**: with {n:,} "
                            f"threads blocked under the library the process had {g['threads']:,} OS "
                            "threads (each pthread runs as the one fiber of a hub of its own). The "
                            "green figures here are therefore the library's cost on native threads, "
                            "not fibers; expect little gain until pthread_create makes fibers.")
                return (f"Green pthreads are fibers in this build: {n:,} blocked threads under the "
                        f"library ran on {g['threads']:,} OS thread{'s' if g['threads'] != 1 else ''}.")
        return None

    def machine(self):
        cpu = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        libuv = subprocess.run(["pkg-config", "--modversion", "libuv"], capture_output=True,
                               text=True).stdout.strip() or "?"
        glibc = platform.libc_ver()[1] or "?"
        commit = subprocess.run(["git", "-C", TOP, "log", "-1", "--format=%h %s"], capture_output=True,
                                text=True).stdout.strip() or "?"
        mem = meminfo_kib("MemTotal") or 0
        return dict(cpus=os.cpu_count(), cpu=cpu, kernel=platform.release(), glibc=glibc,
                    libuv=libuv, memory_gib=round(mem / 1048576, 1), commit=commit)

    def main(self):
        only = self.args.only.split(",") if self.args.only else SECTIONS
        unknown = [s for s in only if s not in SECTIONS]
        if unknown:
            sys.exit(f"suite: unknown section {unknown[0]}; sections: {', '.join(SECTIONS)}")
        m = self.machine()
        self.results["machine"] = m
        load_before = open("/proc/loadavg").read().split()[:3]
        started = time.monotonic()
        print(f"libgreen benchmark suite, {self.mode} mode, "
              f"{'pinned (programs on CPU 0, load generator on CPU 1)' if self.pin else 'not pinned'}; "
              f"{m['cpus']} CPUs, load average {' '.join(load_before)}")
        for section in SECTIONS:
            if section in only:
                getattr(self, section)()
        note = self.threads_note()
        if note:
            print(f"\n{note}")
        self.targets()
        load_after = open("/proc/loadavg").read().split()[:3]
        elapsed = time.monotonic() - started
        self.results["load_average"] = dict(before=load_before, after=load_after)
        self.results["elapsed_s"] = round(elapsed, 1)

        svg = self.plot()
        command = "tools/dev bench" + {"full": "", "quick": " --quick", "smoke": " --smoke"}[self.mode]
        header = [
            "# libgreen benchmarks",
            "",
            f"- command: `{command}` ({self.mode} mode, {elapsed:.0f} s)",
            f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit {m['commit']}",
            f"- machine: {m['cpus']} CPUs, {m['cpu']}, {m['memory_gib']} GiB; kernel {m['kernel']}; "
            f"glibc {m['glibc']}; libuv {m['libuv']}",
            f"- load average (1, 5, 15 min): {' '.join(load_before)} before, {' '.join(load_after)} after "
            "(the machine is shared: absolute figures drift, ratios from one run hold better)",
            "- pinning: " + ("every program under test on CPU 0 (`taskset -c 0`), the echo load "
                             "generator on CPU 1" if self.pin else "none (`--no-pin`)"),
            "- green: the same binary with `LD_PRELOAD=" + os.path.relpath(self.libgreen, TOP) + "`",
        ]
        if note:
            header += ["", note]
        report = "\n".join(header) + "\n\n" + "\n".join(self.report)
        if svg:
            report += "\n![echo throughput and memory against connections](echo.svg)\n"
        with open(os.path.join(self.out, "report.md"), "w") as f:
            f.write(report)
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump(self.results, f, indent=1, default=str)
        print(f"\nsuite: report in {os.path.join(self.out, 'report.md')}"
              + (f", plot in {os.path.join(self.out, 'echo.svg')}" if svg else "")
              + f" ({elapsed:.0f} s)")
        if self.problems:
            print(f"suite: {len(self.problems)} problem(s):", file=sys.stderr)
            for p in self.problems:
                print(f"  {p}", file=sys.stderr)
            return 1 if self.mode == "smoke" else 0
        return 0

    # ------------------------------------------------------------ plot

    def plot(self):
        """echo.svg: round trips/s and server RSS against connection count, one line per server."""
        echo = self.results.get("echo")
        if not echo:
            return False
        from svgplot import two_panels
        series = []
        for key, _, _, label in self.SERVERS:
            rps, rss = [], []
            for conns in sorted(echo):
                r = echo[conns].get(key, {})
                if r.get("rtts") and "why" not in r:
                    rps.append((conns, r["rps"]))
                    rss.append((conns, r["server_rss_kb"] / 1024))
            series.append((label, rps, rss))
        svg = two_panels(
            "Echo servers, 64-byte ping-pong, against concurrent connections",
            ("round trips per second", "server RSS (MiB, log scale)"), series,
            note="A missing point: that server failed at that size (see report.md).")
        with open(os.path.join(self.out, "echo.svg"), "w") as f:
            f.write(svg)
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 3)[3],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smaller sizes, shorter windows")
    mode.add_argument("--smoke", action="store_true", help="every program once, tiny sizes; exit 1 on failure")
    parser.add_argument("--build", default=os.path.join(TOP, "build"), help="build directory")
    parser.add_argument("--out", help="output directory (default BUILD/bench)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    parser.add_argument("--only", help="comma-separated sections: " + ",".join(SECTIONS))
    parser.add_argument("--dns-inner", nargs=2, type=int, metavar=("N", "DELAY_MS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, HERE)
    suite = Suite(args)
    if args.dns_inner:
        suite.dns_inner(*args.dns_inner)
        return 0
    return suite.main()


if __name__ == "__main__":
    sys.exit(main())
