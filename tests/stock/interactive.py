#!/usr/bin/env python3
"""An interactive program for the tmux case: reads its terminal with os.read (a blocking read
of a tty), is interrupted by Ctrl-C (KeyboardInterrupt from the default SIGINT handler), then
reads one more line. Results go to the file named by argv[1]; argv[2] is touched when the
program is about to block."""
import os
import sys

out = open(sys.argv[1], "w", buffering=1)
ready = sys.argv[2]
open(ready, "w").close()
try:
    data = os.read(0, 100)
    out.write(f"read returned {data!r}\n")
except KeyboardInterrupt:
    out.write("interrupted by Ctrl-C\n")
open(ready + ".2", "w").close()
data = os.read(0, 100)
out.write(f"then read {data!r}\n")
out.write(f"O_NONBLOCK on the tty: {bool(__import__('fcntl').fcntl(0, __import__('fcntl').F_GETFL) & os.O_NONBLOCK)}\n")
