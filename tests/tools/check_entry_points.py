#!/usr/bin/env python3
"""green-run --list against the library's exported symbols, in both directions.

usage: check_entry_points.py NM LIBGREEN GREEN_RUN

Every name libgreen.so exports (but its own green_api_ functions) must be listed, with a
family and one of the modes, and every listed name must be exported: the list is generated from
preload/entry_points.txt and the exports come from preload/libgreen.map, so a hook added to
one and not the other fails here.
"""
import subprocess
import sys

MODES = {"green", "offloaded", "pass-through"}
API_PREFIX = "green_api_"


def main():
    nm, libgreen, green_run = sys.argv[1:4]
    out = subprocess.run([nm, "-D", "--defined-only", libgreen], check=True,
                         capture_output=True, text=True).stdout
    exported = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in "TtWwiI":
            exported.add(parts[2].split("@")[0])
    api = {n for n in exported if n.startswith(API_PREFIX)}
    exported -= api

    run = subprocess.run([green_run, "--list"], capture_output=True, text=True)
    problems = []
    if run.returncode != 0 or run.stderr:
        problems.append("green-run --list: exit %d, stderr %r" % (run.returncode, run.stderr))
    listed = {}
    for number, line in enumerate(run.stdout.splitlines(), 1):
        parts = line.split(None, 3)
        if len(parts) < 3 or parts[2] not in MODES:
            problems.append("line %d of the list is not NAME FAMILY MODE [NOTE]: %r" % (number, line))
            continue
        if parts[0] in listed:
            problems.append("%s is listed twice" % parts[0])
        listed[parts[0]] = parts[2]
    for name in sorted(exported - set(listed)):
        problems.append("libgreen.so exports %s, which green-run --list does not list "
                        "(add it to preload/entry_points.txt)" % name)
    for name in sorted(set(listed) - exported):
        problems.append("green-run --list lists %s, which libgreen.so does not export" % name)
    if not api:
        problems.append("libgreen.so exports none of the green_api_ functions green.h looks up")

    modes = {}
    for mode in listed.values():
        modes[mode] = modes.get(mode, 0) + 1
    print("%d entry points listed (%s), %d exported, %d API functions"
          % (len(listed), ", ".join("%d %s" % (n, m) for m, n in sorted(modes.items())),
             len(exported), len(api)))
    for p in problems:
        print("FAIL: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
