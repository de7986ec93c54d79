#!/usr/bin/env python3
"""Turns preload/entry_points.txt into the C table green-run --list prints.

usage: gen_entry_points.py TABLE OUTPUT_HEADER

Each line of TABLE is NAME FAMILY MODE [NOTE...]; '#' starts a comment line. Fails on a
malformed line, an unknown mode or a name listed twice, so a bad table stops the build.
"""
import re
import sys

MODES = ("green", "offloaded", "pass-through")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def c_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    table, output = sys.argv[1:3]
    rows, seen = [], set()
    with open(table) as f:
        for number, line in enumerate(f, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split(None, 3)
            where = "%s:%d" % (table, number)
            if len(parts) < 3 or not NAME.match(parts[0]) or not NAME.match(parts[1]):
                sys.exit("%s: expected NAME FAMILY MODE [NOTE]" % where)
            if parts[2] not in MODES:
                sys.exit("%s: mode %r is not one of %s" % (where, parts[2], ", ".join(MODES)))
            if parts[0] in seen:
                sys.exit("%s: %s is listed twice" % (where, parts[0]))
            seen.add(parts[0])
            rows.append((parts[0], parts[1], parts[2], parts[3].strip() if len(parts) > 3 else ""))
    with open(output, "w") as out:
        out.write("/* Generated from preload/entry_points.txt by gen_entry_points.py. */\n")
        out.write("static const struct green_entry_point green_entry_points[] = {\n")
        for row in rows:
            out.write("    { %s },\n" % ", ".join(c_string(c) for c in row))
        out.write("};\n")


if __name__ == "__main__":
    main()
