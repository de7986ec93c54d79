#!/usr/bin/env python3
"""pipeflags.py CMD [ARGS...]: run CMD (which must copy stdin to stdout, like cat) between two
pipes this process made, feed it in two parts with a pause between, and report whether the O_NONBLOCK
flag of either pipe's open file description changed. Those descriptions are shared with CMD, so
a green CMD that set O_NONBLOCK on them would change its parent's pipes too.
"""
import fcntl
import hashlib
import os
import subprocess
import sys
import threading
import time


def nonblocking(fd):
    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK)


def main():
    first = b"first part\n"
    second = bytes(i % 251 for i in range(300_000))  # more than both pipes hold
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    before = (nonblocking(in_r), nonblocking(out_w))

    child = subprocess.Popen(sys.argv[1:], stdin=in_r, stdout=out_w)
    got = bytearray()

    def feed():
        try:
            os.write(in_w, first)
            time.sleep(0.3)  # the child finds its stdin empty and blocks
            view = memoryview(second)
            while view:
                view = view[os.write(in_w, view):]
        except BrokenPipeError:
            pass  # the child died early; the output comparison says so
        os.close(in_w)

    def drain():
        while chunk := os.read(out_r, 65536):
            got.extend(chunk)

    threads = [threading.Thread(target=feed), threading.Thread(target=drain)]
    for t in threads:
        t.start()
    status = child.wait()
    # The child has exited; this process still holds both descriptions.
    after = (nonblocking(in_r), nonblocking(out_w))
    os.close(in_r)
    os.close(out_w)
    for t in threads:
        t.join()

    same = hashlib.sha256(got).digest() == hashlib.sha256(first + second).digest()
    print(f"child exit status: {status}")
    print(f"bytes copied: {len(got)} of {len(first) + len(second)}, identical: {same}")
    print(f"stdin pipe O_NONBLOCK: before {before[0]}, after {after[0]}")
    print(f"stdout pipe O_NONBLOCK: before {before[1]}, after {after[1]}")
    return 0 if same and before == after == (False, False) else 1


if __name__ == "__main__":
    sys.exit(main())
