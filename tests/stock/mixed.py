#!/usr/bin/env python3
"""The mixed python3 stock case: threads, sockets, select, selectors and time.sleep together.

A selectors-based echo server in one thread (non-blocking sockets, the DefaultSelector: epoll)
serves client threads that wait with select.select, with socket timeouts (which CPython waits
out with poll) and with time.sleep between messages; a thread feeds a pipe that the main thread
watches with a selector; select() with no fds serves as a sleep. Timeouts are checked to be
neither missed nor cut short. Prints only what is the same in every correct run, in a fixed
order, after every thread has been joined.
"""
import hashlib
import os
import queue
import select
import selectors
import socket
import threading
import time

CLIENTS = 8
MESSAGES = 5


def echo_server(lsock, stop_r, served):
    """One thread, many connections: an event loop on non-blocking sockets."""
    sel = selectors.DefaultSelector()
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, "listen")
    sel.register(stop_r, selectors.EVENT_READ, "stop")
    pending = {}
    while True:
        for key, events in sel.select(timeout=5):
            if key.data == "stop":
                sel.close()
                return
            if key.data == "listen":
                conn, _ = lsock.accept()
                conn.setblocking(False)
                pending[conn] = b""
                sel.register(conn, selectors.EVENT_READ, "conn")
                continue
            conn = key.fileobj
            try:
                data = conn.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                sel.unregister(conn)
                conn.close()
                served.put(len(pending.pop(conn)))
                continue
            pending[conn] += data
            # Echo upper-cased; small replies always fit the send buffer of a fresh socket.
            conn.sendall(data.upper())


def client(index, port, results):
    lines = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for n in range(MESSAGES):
            msg = f"client {index} message {n}\n".encode()
            sock.sendall(msg)
            got = b""
            while len(got) < len(msg):
                readable, _, _ = select.select([sock], [], [], 5)
                if not readable:
                    lines.append("select timed out waiting for the echo")
                    break
                got += sock.recv(4096)
            # rstrip("\n") only: a damaged byte must show in the transcript, not be stripped.
            lines.append(got.decode(errors="replace").rstrip("\n"))
            time.sleep(0.01 * (1 + (index + n) % 3))
        # Nothing more will come: a socket timeout must expire, not return early.
        sock.settimeout(0.1)
        start = time.monotonic()
        try:
            sock.recv(1)
            lines.append("recv returned before the timeout")
        except socket.timeout:
            lines.append(f"recv timed out after >= 0.1 s: {time.monotonic() - start >= 0.095}")
    results[index] = lines


def main():
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    port = lsock.getsockname()[1]
    stop_r, stop_w = socket.socketpair()
    served = queue.Queue()
    server = threading.Thread(target=echo_server, args=(lsock, stop_r, served))
    server.start()

    results = {}
    clients = [threading.Thread(target=client, args=(i, port, results)) for i in range(CLIENTS)]
    for t in clients:
        t.start()

    # Meanwhile, the main thread: a pipe fed by a thread that sleeps first, watched by a selector.
    r, w = os.pipe()

    def feeder():
        for n in range(3):
            time.sleep(0.05)
            os.write(w, f"pipe line {n}\n".encode())
        os.close(w)

    feed = threading.Thread(target=feeder)
    feed.start()
    sel = selectors.DefaultSelector()
    sel.register(r, selectors.EVENT_READ)
    pipe_data = b""
    while True:
        if not sel.select(timeout=5):
            print("pipe: the selector timed out")
            break
        chunk = os.read(r, 4096)
        if not chunk:
            break
        pipe_data += chunk
    sel.close()
    os.close(r)
    feed.join()
    print(pipe_data.decode(), end="")

    # select() with no fds is a sleep; a selector with nothing ready times out.
    start = time.monotonic()
    select.select([], [], [], 0.1)
    print(f"select([], [], [], 0.1) slept >= 0.1 s: {time.monotonic() - start >= 0.095}")
    a, b = socket.socketpair()
    with a, b:
        sel = selectors.DefaultSelector()
        sel.register(a, selectors.EVENT_READ)
        start = time.monotonic()
        ready = sel.select(timeout=0.1)
        print(f"idle selector: {len(ready)} ready after >= 0.1 s: "
              f"{time.monotonic() - start >= 0.095}")
        b.send(b"x")
        print(f"after a send: {len(sel.select(timeout=5))} ready")
        sel.close()
        a.recv(1)
        print(f"select with a zero timeout on an idle socket: {select.select([a], [], [], 0)}")

    for t in clients:
        t.join()
    stop_w.send(b"stop")
    server.join()
    stop_r.close()
    stop_w.close()
    lsock.close()

    for i in range(CLIENTS):
        for line in results.get(i, ["no result"]):
            print(line)
    sizes = sorted(served.get_nowait() for _ in range(served.qsize()))
    print(f"server: {len(sizes)} connections, bytes per connection {sizes}")
    digest = hashlib.sha256("".join("".join(results[i]) for i in sorted(results)).encode())
    print(f"digest of every echo: {digest.hexdigest()[:16]}")


if __name__ == "__main__":
    main()
