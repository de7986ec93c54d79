#!/usr/bin/env python3
"""One end of a TCP conversation with a half-close, for the socat and nc cases.

  halfclose.py listen PORTFILE ORDER   binds 127.0.0.1:0, writes the port to PORTFILE, serves one
                                       connection
  halfclose.py connect PORT ORDER      connects to 127.0.0.1:PORT (retrying for 10 s while refused)
  halfclose.py pattern ROLE            writes the bytes ROLE (client or server) sends to stdout

ORDER says which side stops sending first:
  client-first  the client sends its data and shuts down its write side; the server reads to EOF,
                pauses, then sends its own data and closes. The server's reply travels after
                the client's half-close.
  server-first  the server sends its data and shuts down its write side; the client reads to
                EOF, pauses, then sends its data and closes.

The client sends CLIENT_BYTES of one pattern, the server SERVER_BYTES of another; each side
prints what it received and whether it is exactly what the other side sent. Either side can be
replaced by socat or nc, whose stdin/stdout then carry the data (see pattern_file).
"""
import hashlib
import os
import random
import socket
import sys
import time

CLIENT_BYTES = 300_000
SERVER_BYTES = 200_000
PAUSE = 0.3


def pattern(role):
    if role == "client":
        return random.Random(1).randbytes(CLIENT_BYTES)
    return random.Random(2).randbytes(SERVER_BYTES)


def recv_to_eof(sock):
    buf = bytearray()
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(buf)
        buf += chunk


def report(me, got, sender):
    want = pattern(sender)
    verdict = "exactly what the " + sender + " sent" if got == want else "NOT what was sent"
    print(f"{me}: received {len(got)} bytes, sha256 {hashlib.sha256(got).hexdigest()[:16]}, "
          f"{verdict}", flush=True)


def converse(sock, me, order):
    other = "server" if me == "client" else "client"
    first = order.split("-")[0]
    if first == me:
        sock.sendall(pattern(me))
        sock.shutdown(socket.SHUT_WR)
        print(f"{me}: sent {len(pattern(me))} bytes and shut down writing", flush=True)
        report(me, recv_to_eof(sock), other)
    else:
        report(me, recv_to_eof(sock), other)
        time.sleep(PAUSE)
        sock.sendall(pattern(me))
        print(f"{me}: sent {len(pattern(me))} bytes after the peer's half-close", flush=True)
    sock.close()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "pattern":
        # halfclose.py pattern ROLE: the bytes ROLE sends, for socat or nc to send instead.
        sys.stdout.buffer.write(pattern(sys.argv[2]))
        return
    mode, where, order = sys.argv[1:4]
    assert order in ("client-first", "server-first"), order
    if mode == "listen":
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        tmp = where + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{lsock.getsockname()[1]}\n")
        os.rename(tmp, where)
        sock, _ = lsock.accept()
        lsock.close()
        converse(sock, "server", order)
    else:
        # The listener may be a socat or nc that is still starting; it serves one connection,
        # so it cannot be probed first.
        deadline = time.monotonic() + 10
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", int(where)))
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        converse(sock, "client", order)


if __name__ == "__main__":
    main()
