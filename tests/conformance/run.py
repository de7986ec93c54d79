#!/usr/bin/env python3
"""Run one module of CPython's own test suite natively and under green-run; compare outcomes.

usage: run.py --green-run PATH [--python PATH] [--timeout S] [--skip-list FILE]...
              [--resources R] [--logdir DIR] MODULE

Each run is `python3 -m test MODULE -v [-u R]` in its own process group, stdout and stderr
merged. A run that outlives --timeout gets SIGABRT first, so that faulthandler (which regrtest
enables) prints every thread's Python stack, then SIGKILL for its whole group.

Per-test outcomes (ok, FAIL, ERROR, skipped, expected failure, unexpected success) are parsed
from unittest's verbose lines and the FAIL:/ERROR: headers of its report. The module passes when
neither run hung or crashed, both ran the same tests, and every test that passed natively passed
green. A test that fails natively is not held against the green run. Tests the skip list names
are left out of both runs: tests/conformance/skip.txt (each with the reason it cannot be
faithful under a preload), offhost.txt (tests that would talk to something beyond the machine)
and pending.txt (tests waiting for a fix another part of the issue owns).

Exit status 0 and one line "ok: MODULE ..." when that holds, 1 and a short diff otherwise, 77
(meson's skip) when the module is not installed.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time

# "test_x (test.test_mod.Class.test_x) ... ok", the status possibly on a later line when the
# test printed something; a docstring line may sit between the id and the status.
HEADER_RE = re.compile(r"^(test\w*|runTest) \(([\w.]+)\)")
STATUS_RE = re.compile(r"(?:^|\.\.\. )(ok|FAIL|ERROR|skipped\b.*|expected failure|"
                       r"unexpected success)\s*$")
REPORT_RE = re.compile(r"^(FAIL|ERROR): (\w+) \(([\w.]+)\)")
PASSED = ("ok", "expected failure")
MAX_DIFF = 40


def test_id(name, qual):
    # 3.11 prints the qualified name including the method; older ones print only the class.
    return qual if qual.endswith("." + name) else qual + "." + name


def parse(text):
    """Returns {test id: outcome} with outcome one of ok, FAIL, ERROR, skipped, ..."""
    outcomes = {}
    current = None
    for line in text.splitlines():
        m = REPORT_RE.match(line)
        if m:
            # The report at the end is authoritative: a failing subtest or tearDown counts.
            tid = test_id(m.group(2), m.group(3))
            if outcomes.get(tid) != "ERROR":
                outcomes[tid] = m.group(1)
            continue
        m = HEADER_RE.match(line)
        if m:
            current = test_id(m.group(1), m.group(2))
            rest = line[m.end():]
        elif current is None:
            continue
        else:
            rest = line
        s = STATUS_RE.search(rest)
        if s and current is not None:
            status = s.group(1)
            if status.startswith("skipped"):
                status = "skipped"
            if outcomes.get(current) not in ("FAIL", "ERROR"):
                outcomes[current] = status
            current = None
    return outcomes


def run(argv, env, timeout, log_path):
    start = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
        hung = False
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            hung = True
            try:
                os.kill(proc.pid, signal.SIGABRT)  # faulthandler dumps the stacks
                proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # its own group: pgid == pid
            except ProcessLookupError:
                pass
            rc = proc.wait()
    # Children the module left behind in the group go too.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    with open(log_path, "rb") as log:
        text = log.read().decode("utf-8", "replace")
    return rc, hung, time.monotonic() - start, text


def load_skips(paths, module):
    skips = {}
    for path in paths:
        skips.update(load_skip_file(path, module))
    return skips


def load_skip_file(path, module):
    skips = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        tid, _, reason = line.partition(" ")
        if not reason.strip():
            raise SystemExit("%s: entry without a reason: %s" % (path, tid))
        if tid.startswith("test." + module + "."):
            skips[tid] = (os.path.basename(path), reason.strip())
    return skips


def tail(text, n=30):
    return "\n".join(text.splitlines()[-n:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--green-run", required=True)
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--skip-list", action="append", default=[],
                    help="a file of TEST_ID REASON lines (repeatable)")
    ap.add_argument("--resources", default="")
    ap.add_argument("--logdir", default=".")
    ap.add_argument("module")
    args = ap.parse_args()

    mod = args.module
    probe = subprocess.run([args.python, "-c", "import test.%s" % mod],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        print("skip: test.%s is not installed (Debian: libpython3.11-testsuite)" % mod)
        return 77

    skips = load_skips(args.skip_list, mod)
    cmd = [args.python, "-m", "test", mod, "-v"]
    if args.resources:
        cmd += ["-u", args.resources]
    if skips:
        # Both runs leave them out, so that a test that cannot be faithful neither hangs the
        # green run nor counts as a difference.
        ignore = os.path.join(args.logdir, "%s.skip" % mod)
        os.makedirs(args.logdir, exist_ok=True)
        with open(ignore, "w") as f:
            f.write("".join(t + "\n" for t in sorted(skips)))
        cmd += ["--ignorefile", ignore]
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env["PYTHONUNBUFFERED"] = "1"  # the log shows where a hung run stopped
    os.makedirs(args.logdir, exist_ok=True)

    # A shell that started the suite in the background may have left SIGINT ignored, which
    # the runs would inherit (test_threading's interrupt_main tests need its default).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    runs = {}
    for label, argv in (("native", cmd), ("green", [args.green_run] + cmd)):
        log = os.path.join(args.logdir, "%s.%s.log" % (mod, label))
        rc, hung, secs, text = run(argv, env, args.timeout, log)
        runs[label] = (rc, hung, secs, text, parse(text), log)

    problems = []
    for label in ("native", "green"):
        rc, hung, secs, text, res, log = runs[label]
        if hung:
            problems.append("%s run hung: killed after %.0f s (log %s); its end:\n%s"
                            % (label, args.timeout, log, tail(text, 40)))
        elif rc < 0:
            problems.append("%s run killed by signal %d (log %s); its end:\n%s"
                            % (label, -rc, log, tail(text)))
        elif not res:
            problems.append("%s run reported no tests (exit %d, log %s); its end:\n%s"
                            % (label, rc, log, tail(text)))
    nat, green = runs["native"][4], runs["green"][4]

    diff = []
    for tid in sorted(set(nat) | set(green)):
        n, g = nat.get(tid, "not run"), green.get(tid, "not run")
        if n in PASSED and g not in PASSED:
            diff.append("  %-70s native %-8s green %s" % (tid, n, g))
        elif n == "not run" or (g == "not run" and not runs["green"][1]):
            diff.append("  %-70s native %-8s green %s" % (tid, n, g))
    if diff:
        problems.append("%d tests differ (test, native outcome, green outcome):\n%s%s"
                        % (len(diff), "\n".join(diff[:MAX_DIFF]),
                           "\n  ..." if len(diff) > MAX_DIFF else ""))

    def count(res, what):
        return sum(1 for o in res.values() if o in what)

    left_out = {}
    for source, _ in skips.values():
        left_out[source] = left_out.get(source, 0) + 1
    summary = ("%s: %d tests; passed native %d, green %d; left out: %s; native %.1f s, green %.1f s"
               % (mod, len(nat), count(nat, PASSED), count(green, PASSED),
                  ", ".join("%s %d" % kv for kv in sorted(left_out.items())) or "none",
                  runs["native"][2], runs["green"][2]))
    if problems:
        print("FAIL: " + summary)
        for p in problems:
            print(p)
        return 1
    print("ok: " + summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
