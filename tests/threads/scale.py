#!/usr/bin/env python3
"""Thread-scale tests: thousands of blocked threads under libgreen, on a handful of OS threads.

usage:
  scale.py echo --server PROG --client PROG --lib SO --threads N --native-threads M
                [--bytes B] --os-threads {few,per-thread}
  scale.py sleepers --program PROG --lib SO --threads N --native-threads M [--ms MS]
                    --os-threads {few,per-thread}

echo: echo_server and echo_client (see their sources) run as a pair three times: natively
with M client threads, under the library with M, and under the library with N. Every run must
verify every byte and print exactly the transcript expected for its thread count, so the green
run with M threads prints byte for byte what the native run printed.
sleepers: sleepers.c natively with M threads, under the library with M and with N, alike.

Each program also prints one "measured: ..." line with the OS thread count it read from
/proc/self/status while all its threads were blocked. The native run must show at least one
OS thread per program thread (the measurement sees threads). The green runs must show:
  --os-threads few         at most 8 OS threads per process (program threads are fibers on
                           one hub: issue 3);
  --os-threads per-thread  one OS thread per program thread, as native (each pthread is a native
                           thread with a hub of its own, the state before issue 3).
Green runs must also print the library's stats line with parks >= 1 and nothing else on stderr.

Every process runs in its own process group with a time limit; a failure kills what is left by
process group id. Exit status 0 and "ok: ..." lines when everything holds, 1 and a report
otherwise.
"""

import argparse
import os
import re
import select
import signal
import subprocess
import sys
import time

RUN_TIMEOUT = 240.0
MAX_FEW_OS_THREADS = 8
STATS_RE = re.compile(r"^libgreen: stats: (.*)$")
MEASURED_RE = re.compile(r"^measured: (.*)$")

failures = []


def check(cond, what):
    if cond:
        print("ok:   " + what)
    else:
        print("FAIL: " + what)
        failures.append(what)
    sys.stdout.flush()
    return cond


def env_for(lib):
    # The library's settings reach only the runs under it (GREEN_THREADS=native for the
    # native-mode test); the native runs get none.
    env = dict(os.environ)
    settings = {k: v for k, v in env.items() if k.startswith("GREEN_")}
    for k in list(settings) + ["LD_PRELOAD"]:
        env.pop(k, None)
    if lib:
        env.update(settings)
        # A sanitizer build's runtime comes right after the library (SANITIZER_RUNTIME).
        env["LD_PRELOAD"] = ":".join(p for p in (lib, os.environ.get("SANITIZER_RUNTIME")) if p)
        env["GREEN_STATS"] = "1"
    return env


def kill_group(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def finish(p, label, timeout=RUN_TIMEOUT):
    """Waits for p, returns (returncode, stdout text, stderr text); kills it on timeout."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(p)
        out, err = p.communicate()
        check(False, "%s finished within %d s" % (label, timeout))
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def split_stderr(err):
    """The stats lines (as dicts) and the remaining stderr text."""
    stats, rest = [], []
    for line in err.splitlines(keepends=True):
        m = STATS_RE.match(line.rstrip("\n"))
        if m:
            stats.append({k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())})
        else:
            rest.append(line)
    return stats, "".join(rest)


def split_measured(out):
    """The measured values (a dict) and the transcript without the measured line."""
    measured, rest = {}, []
    for line in out.splitlines(keepends=True):
        m = MEASURED_RE.match(line.rstrip("\n"))
        if m:
            for kv in m.group(1).split():
                k, v = kv.split("=")
                measured[k] = float(v) if "." in v else int(v)
        else:
            rest.append(line)
    return measured, "".join(rest)


def check_process(label, rc, err, green):
    check(rc == 0, "%s: exit status 0 (got %s)" % (label, rc))
    stats, rest = split_stderr(err)
    check(rest == "", "%s: nothing on stderr%s" % (label, "" if rest == "" else ", got:\n" + rest[:2000]))
    if green:
        check(len(stats) == 1, "%s: the library's stats line is printed once (got %d)" % (label, len(stats)))
        parks = stats[0].get("parks", 0) if stats else 0
        check(parks >= 1, "%s: blocking calls parked (parks=%d)" % (label, parks))


def check_os_threads(label, count, nthreads, expect):
    if expect == "native":
        check(count >= nthreads + 1,
              "%s: %d OS threads, at least one per program thread (%d + main): the "
              "measurement sees native threads" % (label, count, nthreads))
    elif expect == "few":
        check(0 < count <= MAX_FEW_OS_THREADS,
              "%s: %d OS threads while %d green threads are blocked (at most %d)"
              % (label, count, nthreads, MAX_FEW_OS_THREADS))
    else:
        check(count >= nthreads + 1,
              "%s: %d OS threads, one per program thread (each pthread native with its own "
              "hub; pass --os-threads few once pthreads are fibers)" % (label, count))


def run_echo(args, label, nthreads, lib, expect):
    env = env_for(lib)
    server = subprocess.Popen([args.server], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, start_new_session=True)
    client = None
    try:
        ready, _, _ = select.select([server.stdout], [], [], 30)
        line = server.stdout.readline().decode() if ready else ""
        m = re.fullmatch(r"port (\d+)\n", line)
        if not check(m is not None, "%s: the server prints its port (got %r)" % (label, line)):
            kill_group(server)
            finish(server, label + " server")
            return
        client = subprocess.Popen([args.client, m.group(1), str(nthreads), str(args.bytes),
                                   "--quit-server"], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                  start_new_session=True)
        crc, cout, cerr = finish(client, label + " client")
        if crc != 0:
            kill_group(server)
        src, sout, serr = finish(server, label + " server", timeout=30)
    finally:
        for p in (client, server):
            if p is not None and p.poll() is None:
                kill_group(p)
                p.wait()

    measured, transcript = split_measured(cout)
    total = nthreads * (64 + args.bytes)
    expected = ("client threads: %d\nconnections open at once: %d\n"
                "bytes echoed and verified: %d of %d\nthreads that failed: 0\n"
                % (nthreads, nthreads, total, total))
    check(transcript == expected, "%s: every connection held open at once and every byte "
          "verified%s" % (label, "" if transcript == expected else
                          "; expected:\n%sgot:\n%s" % (expected, transcript)))
    check_process(label + " client", crc, cerr, lib is not None)
    check_process(label + " server", src, serr, lib is not None)
    check(sout == "", "%s server: nothing on stdout but the port line (got %r)" % (label, sout[:200]))
    for who in ("client", "server"):
        count = measured.get(who + "_os_threads", -1)
        check_os_threads("%s %s" % (label, who), count, nthreads, expect)
    return transcript


def run_sleepers(args, label, nthreads, lib, expect):
    p = subprocess.Popen([args.program, str(nthreads), str(args.ms)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(lib),
                         start_new_session=True)
    rc, out, err = finish(p, label)
    measured, transcript = split_measured(out)
    expected = ("threads: %d, each sleeping %d ms\nthreads joined: %d\n"
                "sleeps that failed or ended early: 0\n"
                "all of them took less than 10 single sleeps: yes\n" % (nthreads, args.ms, nthreads))
    ratio = measured.get("total_over_one_sleep", -1.0)
    check(transcript == expected, "%s: every thread slept its time, all together in %.2f single "
          "sleeps (< 10)%s" % (label, ratio, "" if transcript == expected else
                               "; expected:\n%sgot:\n%s" % (expected, transcript)))
    check_process(label, rc, err, lib is not None)
    check_os_threads(label, measured.get("os_threads_peak", -1), nthreads, expect)
    return transcript


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["echo", "sleepers"])
    ap.add_argument("--server")
    ap.add_argument("--client")
    ap.add_argument("--program")
    ap.add_argument("--lib", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--native-threads", type=int, required=True)
    ap.add_argument("--bytes", type=int, default=8192)
    ap.add_argument("--ms", type=int, default=200)
    ap.add_argument("--os-threads", choices=["few", "per-thread"], required=True)
    args = ap.parse_args()
    lib = os.path.realpath(args.lib)
    run = run_echo if args.mode == "echo" else run_sleepers

    t0 = time.monotonic()
    native = run(args, "native, %d threads" % args.native_threads, args.native_threads, None, "native")
    green = run(args, "green, %d threads" % args.native_threads, args.native_threads, lib,
                args.os_threads)
    check(native == green, "green and native transcripts with %d threads are identical"
          % args.native_threads)
    run(args, "green, %d threads" % args.threads, args.threads, lib, args.os_threads)
    print("%d failed (%.1f s)" % (len(failures), time.monotonic() - t0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
