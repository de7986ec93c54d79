#!/usr/bin/env python3
"""Runs the demo (demo.py BUILD_DIR, sized by DEMO_SIZE/DEMO_ROUNDS) and checks its verdict.

usage: check_verdict.py DEMO_PY BUILD_DIR

Passes when the last line is "verdict: ok: ..." and says that every connection of the run
(DEMO_SIZE, or the size the demo said it scaled down to) was served by the green server on a
handful of OS threads while the native one used one per connection.
"""
import os
import re
import subprocess
import sys

VERDICT = re.compile(r"^verdict: ok: every reply verified both ways; green-run served (\d+) "
                     r"connections on (\d+) OS threads? instead of (\d+), ")


def main():
    demo, build = sys.argv[1], sys.argv[2]
    run = subprocess.run([sys.executable, demo, build], capture_output=True, text=True,
                         timeout=240)
    sys.stdout.write(run.stdout)
    sys.stderr.write(run.stderr)
    lines = run.stdout.strip().splitlines()
    m = VERDICT.match(lines[-1]) if lines else None
    if run.returncode != 0 or not m:
        print("FAIL: no ok verdict (exit status %d)" % run.returncode)
        return 1
    served, green, native = (int(g) for g in m.groups())
    size = int(os.environ.get("DEMO_SIZE", "3000"))
    scaled = re.search(r"scaling down to (\d+) connections", run.stdout)
    if served != size and not (scaled and served <= int(scaled.group(1))):
        print("FAIL: served %d connections, asked for %d" % (served, size))
        return 1
    if green > 8 or native < served:
        print("FAIL: OS threads: green %d (at most 8 expected), native %d (one per "
              "connection expected)" % (green, native))
        return 1
    print("ok: demo verdict")
    return 0


if __name__ == "__main__":
    sys.exit(main())
