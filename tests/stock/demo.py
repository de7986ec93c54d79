#!/usr/bin/env python3
"""The program `tools/dev demo` makes green: plain blocking socket, pipe and sleep calls.

It prints only what it did, never ports or timings, so a native run and a green run print the
same lines. If stdin is a pipe it also reads it to the end, which blocks until the writer closes.
"""
import hashlib
import os
import socket
import stat
import sys
import time


def socketpair_exchange():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"ping")
        got = b.recv(16)
        b.sendall(got.replace(b"i", b"o"))
        back = a.recv(16)
    print(f"socketpair: sent b'ping', the other end got {got!r} and answered {back!r}")


def recv_exactly(sock, n):
    chunks = []
    while n:
        chunk = sock.recv(min(n, 65536))
        if not chunk:
            raise EOFError("peer closed early")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def tcp_exchange(size=64 * 1024):
    payload = bytes(i * 7 % 251 for i in range(size))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()) as client:
            server, _ = listener.accept()
            with server:
                client.sendall(payload)
                received = recv_exactly(server, size)
                server.sendall(hashlib.sha256(received).digest())
                digest = recv_exactly(client, 32)
    same = digest == hashlib.sha256(payload).digest()
    print(f"tcp: connected to itself on 127.0.0.1, sent {size} bytes, "
          f"the server's sha256 of them matches: {'yes' if same else 'NO'}")


def sleep_a_little(seconds=0.2):
    start = time.monotonic()
    time.sleep(seconds)
    ok = time.monotonic() - start >= seconds
    print(f"sleep: time.sleep({seconds}) slept at least {seconds} s: {'yes' if ok else 'NO'}")


def read_stdin_pipe():
    if not stat.S_ISFIFO(os.fstat(0).st_mode):
        return
    data = b""
    while chunk := os.read(0, 4096):
        data += chunk
    lines = data.decode(errors="replace").splitlines()
    print(f"pipe: read {len(data)} bytes from stdin: {lines[0] if lines else ''!r}")


def main():
    socketpair_exchange()
    tcp_exchange()
    sleep_a_little()
    read_stdin_pipe()
    return 0


if __name__ == "__main__":
    sys.exit(main())
