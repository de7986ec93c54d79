#!/usr/bin/env python3
"""Run a program natively and under libgreen.so and compare what it did.

usage: compare.py --lib PATH_TO_libgreen.so [--expect-parks] [--expect-min KEY=N]...
                  [--stdin-pipe] [--stats-lines N] [--needs-hook NAME] -- PROGRAM [ARGS]

Three runs, each in its own process group with a time limit:
  1. native, stdin/stdout/stderr are pipes the harness created;
  2. green (LD_PRELOAD=lib prepended, GREEN_STATS=1), same kind of pipes;
  3. green with stdin a pseudo-terminal.
Runs 1 and 2 must agree on exit status, stdout bytes and stderr bytes (the library's one
stats line removed from the green stderr). Run 3 must agree with run 1 on exit status.
Every green run must print the stats line; with --expect-parks it must report parks >= 1, and
with --expect-min KEY=N the counter KEY >= N (fd_waits=20: at least 20 calls parked on an fd).
A program whose forked children end with exit() has their stats lines too: --stats-lines N
expects N in all, the program's own (the last: it waits for its children) checked.
After every run the open file descriptions the program inherited must be as the harness
made them: file status flags (O_NONBLOCK above all) unchanged, and for the pty its termios
unchanged too.

Without --stdin-pipe the harness closes its end of the stdin pipe at once (a read sees EOF);
with it, the harness keeps the write end open until the program exits (a read would block).

Exit status 0 and one line "ok: PROGRAM" when everything agrees, 1 and a report otherwise.
With --needs-hook NAME, a library that does not define NAME (nm -D) skips the test (exit 77):
for programs whose green run needs another family made green first.
"""

import argparse
import difflib
import fcntl
import os
import pty
import re
import signal
import subprocess
import sys
import termios
import threading

RUN_TIMEOUT = 30.0
STATS_PREFIX = b"libgreen: stats: "
# With GREEN_STATS, the calls that had to block a hub thread, when there were any.
BLOCKED_PREFIX = b"libgreen: blocked: "
STATS_RE = re.compile(rb"^libgreen: stats: [A-Za-z_][A-Za-z0-9_]*=[0-9]+( [A-Za-z_][A-Za-z0-9_]*=[0-9]+)*$")
MAX_DIFF_LINES = 200


class Result:
    def __init__(self, label):
        self.label = label
        self.returncode = None
        self.stdout = b""
        self.stderr = b""
        self.timed_out = False
        self.problems = []  # descriptions of broken invariants, each a string
        self.stats = None   # dict from the stats line (green runs)
        self.blocked = None  # the "libgreen: blocked:" line, if any (green runs)


def status_text(rc):
    if rc is None:
        return "not run"
    if rc < 0:
        try:
            return "killed by " + signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit %d" % rc


def flags_text(fl):
    names = []
    acc = fl & os.O_ACCMODE
    names.append({os.O_RDONLY: "O_RDONLY", os.O_WRONLY: "O_WRONLY"}.get(acc, "O_RDWR"))
    for name in ("O_NONBLOCK", "O_APPEND", "O_ASYNC"):
        bit = getattr(os, name, 0)
        if bit and fl & bit:
            names.append(name)
    rest = fl & ~(os.O_ACCMODE | os.O_NONBLOCK | os.O_APPEND | getattr(os, "O_ASYNC", 0))
    if rest:
        names.append("0%o" % rest)
    return "|".join(names)


def reader(fd, sink):
    chunks = []
    try:
        while True:
            b = os.read(fd, 65536)
            if not b:
                break
            chunks.append(b)
    except OSError:
        pass
    sink.append(b"".join(chunks))


def run(label, argv, env, stdin_mode):
    """stdin_mode: 'eof' (pipe, write end closed), 'open' (pipe, write end kept), 'pty'."""
    res = Result(label)
    to_close = []
    watched = []  # (name, fd, flags before) of the descriptions the child inherits
    master = None
    try:
        if stdin_mode == "pty":
            master, child_in = pty.openpty()
            to_close += [master, child_in]
            tty_before = termios.tcgetattr(child_in)
            harness_in = None
        else:
            child_in, harness_in = os.pipe()
            to_close += [child_in, harness_in]
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        to_close += [out_r, out_w, err_r, err_w]
        for name, fd in (("stdin", child_in), ("stdout", out_w), ("stderr", err_w)):
            watched.append((name, fd, fcntl.fcntl(fd, fcntl.F_GETFL)))

        out_sink, err_sink = [], []
        threads = [threading.Thread(target=reader, args=(out_r, out_sink), daemon=True),
                   threading.Thread(target=reader, args=(err_r, err_sink), daemon=True)]
        for t in threads:
            t.start()

        try:
            proc = subprocess.Popen(argv, stdin=child_in, stdout=out_w, stderr=err_w, env=env,
                                    start_new_session=True, close_fds=True)
        except OSError as e:
            res.problems.append("cannot start %s: %s" % (argv[0], e))
            return res
        if stdin_mode == "eof":
            os.close(harness_in)
            to_close.remove(harness_in)
        try:
            res.returncode = proc.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            res.timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # its own group: pgid == pid
            except ProcessLookupError:
                pass
            res.returncode = proc.wait()
            res.problems.append("timed out after %.0f s and was killed" % RUN_TIMEOUT)

        # The child's ends are the harness's own descriptions: whatever the program set on
        # them is still visible here.
        for name, fd, before in watched:
            after = fcntl.fcntl(fd, fcntl.F_GETFL)
            if after != before:
                res.problems.append("%s: file status flags changed from %s to %s"
                                    % (name, flags_text(before), flags_text(after)))
            elif after & os.O_NONBLOCK:
                res.problems.append("%s: O_NONBLOCK is set" % name)
        if stdin_mode == "pty":
            tty_after = termios.tcgetattr(child_in)
            if tty_after != tty_before:
                res.problems.append("stdin (pty): termios changed from %r to %r"
                                    % (tty_before, tty_after))

        for fd in (out_w, err_w):
            os.close(fd)
            to_close.remove(fd)
        for t in threads:
            t.join(timeout=10)
            if t.is_alive():
                res.problems.append("output pipe still open after the program exited")
        res.stdout = out_sink[0] if out_sink else b""
        res.stderr = err_sink[0] if err_sink else b""
        return res
    finally:
        for fd in to_close:
            try:
                os.close(fd)
            except OSError:
                pass


def take_stats(res, expect_parks, expect_min=(), stats_lines_expected=1):
    """Remove the stats line from a green run's stderr; check it."""
    lines = res.stderr.splitlines(keepends=True)
    kept, stats_lines = [], []
    for line in lines:
        if line.startswith(STATS_PREFIX):
            stats_lines.append(line)
        elif line.startswith(BLOCKED_PREFIX):
            res.blocked = line.rstrip(b"\n").decode("utf-8", "backslashreplace")
        else:
            kept.append(line)
    res.stderr = b"".join(kept)
    if not stats_lines:
        res.problems.append("no stats line on stderr: library did not load or GREEN_STATS ignored")
        return
    if len(stats_lines) != stats_lines_expected:
        res.problems.append("%d stats lines on stderr, expected %d" % (len(stats_lines),
                                                                       stats_lines_expected))
    line = stats_lines[-1].rstrip(b"\n")
    if not STATS_RE.match(line):
        res.problems.append("malformed stats line: %r" % line)
        return
    res.stats = {}
    for kv in line[len(STATS_PREFIX):].split(b" "):
        k, v = kv.split(b"=", 1)
        res.stats[k.decode()] = int(v)
    for key, least in expect_min:
        if res.stats.get(key, 0) < least:
            res.problems.append("%s=%d, expected >= %d: %s"
                                % (key, res.stats.get(key, 0), least, line.decode()))
    if expect_parks and res.stats.get("parks", 0) < 1:
        res.problems.append("parks=%d, expected >= 1 (the blocking calls did not go through "
                            "the hub): %s" % (res.stats.get("parks", 0), line.decode()))


def diff(name, a, b):
    al = a.decode("utf-8", "backslashreplace").splitlines(keepends=True)
    bl = b.decode("utf-8", "backslashreplace").splitlines(keepends=True)
    out = list(difflib.unified_diff(al, bl, "native " + name, "green " + name))
    if len(out) > MAX_DIFF_LINES:
        out = out[:MAX_DIFF_LINES] + ["... (%d more diff lines)\n" % (len(out) - MAX_DIFF_LINES)]
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True, help="path to libgreen.so")
    ap.add_argument("--expect-parks", action="store_true",
                    help="the green run must report parks >= 1")
    ap.add_argument("--expect-min", action="append", default=[], metavar="KEY=N",
                    help="the green run's stats must report KEY >= N")
    ap.add_argument("--stdin-pipe", action="store_true",
                    help="keep the stdin pipe's write end open while the program runs")
    ap.add_argument("--stats-lines", type=int, default=1, metavar="N",
                    help="stats lines the green run prints (forked children's included)")
    ap.add_argument("--needs-hook", action="append", default=[], metavar="NAME",
                    help="skip (exit 77) unless the library defines NAME")
    ap.add_argument("--skip", metavar="REASON",
                    help="skip (exit 77), saying REASON: this build cannot run the program green")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.command
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        ap.error("no PROGRAM given (put it after --)")
    expect_min = []
    for item in args.expect_min:
        key, sep, least = item.partition("=")
        if not sep or not least.isdigit():
            ap.error("--expect-min takes KEY=N, not %r" % item)
        expect_min.append((key, int(least)))
    lib = os.path.abspath(args.lib)
    if not os.path.isfile(lib):
        print("FAIL: %s: library not found: %s" % (cmd[0], lib))
        return 1
    name = " ".join(cmd)
    if args.skip:
        print("skip: %s: %s" % (name, args.skip))
        return 77
    if args.needs_hook:
        defined = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True,
                                 text=True, check=True).stdout.split()
        missing = [h for h in args.needs_hook if h not in defined]
        if missing:
            print("skip: %s: the library does not hook %s yet" % (name, ", ".join(missing)))
            return 77

    native_env = dict(os.environ)
    native_env.pop("GREEN_STATS", None)
    green_env = dict(os.environ)
    old = green_env.get("LD_PRELOAD", "")
    # A sanitizer build's runtime comes right after the library (SANITIZER_RUNTIME, set by
    # meson; green-run does the same).
    green_env["LD_PRELOAD"] = ":".join(
        p for p in (lib, os.environ.get("SANITIZER_RUNTIME"), old) if p)
    green_env["GREEN_STATS"] = "1"

    mode = "open" if args.stdin_pipe else "eof"
    native = run("native", cmd, native_env, mode)
    green = run("green", cmd, green_env, mode)
    take_stats(green, args.expect_parks, expect_min, args.stats_lines)
    green_pty = run("green, stdin a pty", cmd, green_env, "pty")
    take_stats(green_pty, args.expect_parks, expect_min, args.stats_lines)

    failures = []
    for r in (native, green, green_pty):
        for p in r.problems:
            failures.append("%s run: %s" % (r.label, p))
    if green.returncode != native.returncode:
        failures.append("exit status differs: native %s, green %s"
                        % (status_text(native.returncode), status_text(green.returncode)))
    if green_pty.returncode != native.returncode:
        failures.append("exit status differs: native %s, green with a pty stdin %s"
                        % (status_text(native.returncode), status_text(green_pty.returncode)))
    report = []
    if green.stdout != native.stdout:
        failures.append("stdout differs")
        report.append(diff("stdout", native.stdout, green.stdout))
    if green.stderr != native.stderr:
        failures.append("stderr differs (stats line removed)")
        report.append(diff("stderr", native.stderr, green.stderr))

    if not failures:
        print("ok: %s" % name)
        return 0
    print("FAIL: %s" % name)
    for f in failures:
        print("  " + f)
    if green.stats is not None:
        print("  green stats: " + " ".join("%s=%d" % kv for kv in green.stats.items()))
    if green.blocked:
        print("  " + green.blocked)
    for r in report:
        sys.stdout.write(r)
    if native.stderr and native.stderr == green.stderr:
        sys.stdout.write("native stderr (same in the green run):\n"
                         + native.stderr.decode("utf-8", "backslashreplace"))
    sys.stdout.flush()
    return 1


if __name__ == "__main__":
    sys.exit(main())
