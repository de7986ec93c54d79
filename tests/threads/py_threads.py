#!/usr/bin/env python3
"""The python3 threads case: a thread-per-connection server and a pool of client threads that
take their work from a queue.Queue, all in one process, blocking sockets only.

py_threads.py CLIENTS JOBS: a listening socket on 127.0.0.1 served by an acceptor thread that
starts one handler thread per connection; CLIENTS worker threads, each with its own connection,
wait at a threading.Barrier until all are connected, then take job numbers from a queue.Queue,
send each job's payload, read the server's answer (a SHA-256 of the payload and the handler's
running count), and put what they got on a result queue. A BoundedSemaphore caps how many
requests are in flight, a Condition tells main when all jobs are answered, and an Event stops the
server. Prints only what is the same in every run: counts, verifications and a digest of all
answers in job order.
"""
import hashlib
import queue
import socket
import sys
import threading
import time


def payload(job):
    return hashlib.sha256(b"job %d" % job).digest() * (1 + job % 7)


def recv_line(sock, buf):
    while b"\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError("peer closed mid-line")
        buf += chunk
    line, _, rest = bytes(buf).partition(b"\n")
    buf[:] = rest
    return line.decode()


def handle(conn, served):
    """One server thread per connection: 'LEN\\n' then LEN bytes; answers 'sha256 count'."""
    buf = bytearray()
    count = 0
    with conn:
        while True:
            try:
                header = recv_line(conn, buf)
            except EOFError:
                return
            n = int(header)
            while len(buf) < n:
                chunk = conn.recv(n - len(buf))
                if not chunk:
                    return
                buf += chunk
            data, buf[:] = bytes(buf[:n]), buf[n:]
            count += 1
            conn.sendall(b"%s %d\n" % (hashlib.sha256(data).hexdigest().encode(), count))
            with served["lock"]:
                served["n"] += 1


def serve(listener, stop, served, handlers):
    while not stop.is_set():
        conn, _ = listener.accept()
        if stop.is_set():
            conn.close()
            break
        t = threading.Thread(target=handle, args=(conn, served), name="handler")
        t.start()
        handlers.append(t)


def main():
    clients, jobs = int(sys.argv[1]), int(sys.argv[2])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    stop = threading.Event()
    served = {"n": 0, "lock": threading.Lock()}
    handlers = []
    acceptor = threading.Thread(target=serve, args=(listener, stop, served, handlers))
    acceptor.start()

    work = queue.Queue()
    results = queue.Queue()
    in_flight = threading.BoundedSemaphore(clients // 2)
    all_connected = threading.Barrier(clients + 1)
    done = threading.Condition()
    answered = [0]

    def worker(wid):
        sock = socket.create_connection(("127.0.0.1", port))
        all_connected.wait()
        buf = bytearray()
        mine = 0
        with sock:
            while True:
                job = work.get()
                if job is None:
                    work.task_done()
                    break
                data = payload(job)
                with in_flight:
                    sock.sendall(b"%d\n" % len(data) + data)
                    digest, count = recv_line(sock, buf).split()
                mine += 1
                results.put((job, digest, int(count) == mine))
                if job % 97 == 0:
                    time.sleep(0.001)
                work.task_done()
                with done:
                    answered[0] += 1
                    done.notify_all()

    workers = [threading.Thread(target=worker, args=(i,), name="worker-%d" % i)
               for i in range(clients)]
    for t in workers:
        t.start()
    all_connected.wait()
    print("workers connected at once:", clients)

    try:
        work.get(timeout=0.05)
        print("an empty queue gave an item")
    except queue.Empty:
        print("queue.get(timeout=0.05) on an empty queue: queue.Empty")

    for job in range(jobs):
        work.put(job)
    with done:
        ok = done.wait_for(lambda: answered[0] == jobs, timeout=120)
    print("all jobs answered:", ok)
    for _ in workers:
        work.put(None)
    work.join()
    for t in workers:
        t.join()

    got = {}
    while True:
        try:
            job, digest, count_ok = results.get_nowait()
        except queue.Empty:
            break
        got[job] = (digest, count_ok)
    print("results:", len(got), "of", jobs)
    print("digests verified:",
          sum(1 for j, (d, _) in got.items() if d == hashlib.sha256(payload(j)).hexdigest()))
    print("per-connection counts in order:", sum(1 for _, c in got.values() if c))
    print("digest of all answers:",
          hashlib.sha256("".join(got[j][0] for j in sorted(got)).encode()).hexdigest()[:16])

    stop.set()
    socket.create_connection(("127.0.0.1", port)).close()  # wakes the acceptor
    acceptor.join()
    for t in handlers:
        t.join()
    listener.close()
    print("requests served:", served["n"])
    print("handler threads:", len(handlers))
    print("threads left:", threading.active_count())


if __name__ == "__main__":
    main()
