#!/usr/bin/env python3
"""The python3 stock case: blocking sockets and a sleep, no select or poll.

python.py ECHO_PORT: a socketpair exchange, a loopback TCP connection to itself, 1 MiB through
a native echo server on ECHO_PORT (its replies arrive later than the sends, so recv waits),
and time.sleep(0.05). Prints only what is the same in every run.
"""
import hashlib
import socket
import sys
import time

MIB = 1 << 20
CHUNK = 64 * 1024


def pattern(n, seed):
    return bytes((i * seed + (i >> 8)) % 256 for i in range(n))


def recv_exactly(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), CHUNK))
        if not chunk:
            raise EOFError(f"peer closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def digest(data):
    return hashlib.sha256(data).hexdigest()[:16]


def through(sender, receiver, data):
    """Sends data in chunks small enough that one thread can send and then receive each."""
    out = bytearray()
    for off in range(0, len(data), CHUNK):
        piece = data[off:off + CHUNK]
        sender.sendall(piece)
        out += recv_exactly(receiver, len(piece))
    return bytes(out)


def main():
    echo_port = int(sys.argv[1])
    data = pattern(MIB, 7)

    a, b = socket.socketpair()
    with a, b:
        got = through(a, b, data)
        back = through(b, a, got[::-1])
    print(f"socketpair: 1 MiB each way, sha256 {digest(got)} / {digest(back)}, "
          f"intact: {got == data and back == data[::-1]}")

    with socket.create_server(("127.0.0.1", 0)) as listener:
        with socket.create_connection(listener.getsockname()) as client:
            server, _ = listener.accept()
            with server:
                got = through(client, server, data)
                server.shutdown(socket.SHUT_WR)
                eof = client.recv(1)
    print(f"tcp to itself: 1 MiB, sha256 {digest(got)}, intact: {got == data}, "
          f"then EOF: {eof == b''}")

    with socket.create_connection(("127.0.0.1", echo_port)) as conn:
        got = through(conn, conn, data)
    print(f"tcp echo server: 1 MiB round trip, sha256 {digest(got)}, intact: {got == data}")

    start = time.monotonic()
    time.sleep(0.05)
    print(f"time.sleep(0.05) slept at least 0.05 s: {time.monotonic() - start >= 0.05}")

    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[2])))
        print("connect to a closed port: succeeded?")
    except OSError as e:
        print(f"connect to a closed port: {type(e).__name__} errno {e.errno}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
