#!/usr/bin/env python3
"""Check that a fortified build really calls the checking entry points.

usage: check_fortify.py NM BINARY SYMBOL...

With _FORTIFY_SOURCE and a buffer of known size, glibc routes read/recv/recvfrom to
__read_chk/__recv_chk/__recvfrom_chk; the library must hook those names too. This test
guards the test programs themselves: if a compiler change made them call the plain symbols,
the fortified variants would stop testing the fortified hooks.
"""
import subprocess
import sys


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    nm, binary, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
    out = subprocess.run([nm, "-D", "--undefined-only", binary], check=True,
                         capture_output=True, text=True).stdout
    have = {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}
    missing = [s for s in wanted if s not in have]
    if missing:
        print("FAIL: %s does not reference %s" % (binary, " ".join(missing)))
        print("undefined dynamic symbols ending in _chk: "
              + " ".join(sorted(s for s in have if s.endswith("_chk"))))
        return 1
    print("ok: %s references %s" % (binary, " ".join(wanted)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
