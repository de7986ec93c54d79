"""Threads resolving names at once with socket.getaddrinfo, as a threaded client would.

usage: dns_threads.py N   (N threads, each resolving one *.slow.test name the test DNS server
answers late, plus a few names of other kinds from the main thread)

Prints each thread's answer in thread order, then whether a ticker thread kept running while
the lookups were pending (a lookup that blocked its whole OS thread would freeze the ticker
under a green-thread runtime), and the most OS threads the process had while they were. The
last line goes to stderr, where the test reads it: natively it is one per thread.
"""
import socket
import sys
import threading
import time


def os_threads():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def main():
    n = int(sys.argv[1])
    answers = [None] * n
    started = threading.Barrier(n + 1)
    done = threading.Event()
    ticks = 0
    most_threads = 0

    def resolve(i):
        started.wait()
        try:
            infos = socket.getaddrinfo(f"t{i}.slow.test", 80, socket.AF_INET, socket.SOCK_STREAM)
            answers[i] = sorted({info[4][0] for info in infos})
        except socket.gaierror as e:
            answers[i] = f"error {e.errno}"

    def ticker():
        nonlocal ticks, most_threads
        while not done.is_set():
            ticks += 1
            most_threads = max(most_threads, os_threads())
            time.sleep(0.01)

    workers = [threading.Thread(target=resolve, args=(i,)) for i in range(n)]
    for w in workers:
        w.start()
    tick = threading.Thread(target=ticker)
    tick.start()
    started.wait()
    for w in workers:
        w.join()
    done.set()
    tick.join()
    for i, a in enumerate(answers):
        print(f"t{i}.slow.test: {a}")
    # The answers are delayed 200 ms: a ticker that never ran meanwhile was frozen.
    print("the ticker ran while the lookups waited:", "yes" if ticks >= 3 else f"no ({ticks})")
    for name in ("web.test", "alias2.test", "nosuch.test", "servfail.servfail.test"):
        try:
            infos = socket.getaddrinfo(name, "http", socket.AF_INET, socket.SOCK_STREAM)
            print(name, [(info[4][0], info[4][1]) for info in infos])
        except socket.gaierror as e:
            print(name, "gaierror", e.errno)
    print(f"most OS threads while resolving: {most_threads}", file=sys.stderr)


main()
