"""Threads resolving names at once with socket.getaddrinfo, as a threaded client would.

usage: dns_threads.py N   (N threads, each resolving one *.slow.test name the test DNS server
answers late, plus a few names of other kinds from the main thread)

Prints each thread's answer in thread order, then whether the lookups were in flight together:
every thread notes when its call began and returned, and since each answer takes 200 ms, lookups
that overlapped mostly began before the first returned. A lookup that blocked its whole OS
thread would run the green threads' lookups one after another (one in flight at a time). The
most OS threads the process had meanwhile goes to stderr, where the test reads it: natively it
is one per thread.
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
    began = [0.0] * n
    returned = [0.0] * n
    started = threading.Barrier(n + 1)
    done = threading.Event()
    most_threads = 0

    def resolve(i):
        started.wait()
        began[i] = time.monotonic()
        try:
            infos = socket.getaddrinfo(f"t{i}.slow.test", 80, socket.AF_INET, socket.SOCK_STREAM)
            answers[i] = sorted({info[4][0] for info in infos})
        except socket.gaierror as e:
            answers[i] = f"error {e.errno}"
        returned[i] = time.monotonic()

    def sample_threads():
        nonlocal most_threads
        while not done.is_set():
            most_threads = max(most_threads, os_threads())
            time.sleep(0.01)

    workers = [threading.Thread(target=resolve, args=(i,)) for i in range(n)]
    for w in workers:
        w.start()
    sampler = threading.Thread(target=sample_threads)
    sampler.start()
    started.wait()
    for w in workers:
        w.join()
    done.set()
    sampler.join()
    for i, a in enumerate(answers):
        print(f"t{i}.slow.test: {a}")
    first_answer = min(returned)
    in_flight = sum(1 for t in began if t < first_answer)
    print("most lookups were in flight together:",
          "yes" if in_flight > n // 2 else f"no ({in_flight} of {n})")
    for name in ("web.test", "alias2.test", "nosuch.test", "servfail.servfail.test"):
        try:
            infos = socket.getaddrinfo(name, "http", socket.AF_INET, socket.SOCK_STREAM)
            print(name, [(info[4][0], info[4][1]) for info in infos])
        except socket.gaierror as e:
            print(name, "gaierror", e.errno)
    print(f"most OS threads while resolving: {most_threads}", file=sys.stderr)


main()
