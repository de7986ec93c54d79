#!/usr/bin/python3
"""A minimal delaying DNS server for the name-resolution benchmark, standard library only.

usage: dns_delay.py [--port N] [--delay MS]

Binds 127.0.0.1 (port 53 by default: glibc's resolv.conf has no port syntax, so the benchmark
runs it in a network namespace of its own) and prints the port on stdout. Every name under
bench.test gets an A record 192.0.2.<x>, sent --delay ms after the query arrived; answers are
delayed concurrently (a heap of due times), never one after another. Other types under
bench.test get no records (NODATA); every other name is NXDOMAIN, so nothing ever leaves
loopback. Stops on SIGTERM.
"""

import argparse
import heapq
import select
import signal
import socket
import struct
import sys
import time

ZONE = "bench.test"
A = 1


def parse_question(packet):
    """(id, flags, name, qtype, end of question) of a query, or None."""
    if len(packet) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", packet[:6])
    if qdcount != 1:
        return None
    labels, offset = [], 12
    while True:
        if offset >= len(packet):
            return None
        length = packet[offset]
        if length == 0:
            offset += 1
            break
        if length & 0xC0:
            return None
        labels.append(packet[offset + 1:offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    if offset + 4 > len(packet):
        return None
    qtype, _ = struct.unpack("!HH", packet[offset:offset + 4])
    return qid, flags, ".".join(labels).lower(), qtype, offset + 4


def answer(packet):
    parsed = parse_question(packet)
    if parsed is None:
        return None
    qid, flags, name, qtype, end = parsed
    question = packet[12:end]
    in_zone = name == ZONE or name.endswith("." + ZONE)
    rcode = 0 if in_zone else 3
    records = b""
    count = 0
    if in_zone and qtype == A:
        x = sum(name.encode()) % 250 + 1
        # The name as a pointer to the question (offset 12), class IN, TTL 60.
        records = struct.pack("!HHHIH", 0xC00C, A, 1, 60, 4) + bytes([192, 0, 2, x])
        count = 1
    # QR, AA, RD copied from the query, RA.
    reply_flags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
    return struct.pack("!HHHHHH", qid, reply_flags, 1, count, 0, 0) + question + records


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--delay", type=float, default=100.0, help="milliseconds")
    args = parser.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # A thousand queries arrive at once: make room for all of them (FORCE needs root).
    for option in (getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, 8 << 20)
            break
        except OSError:
            pass
    sock.bind(("127.0.0.1", args.port))
    sock.setblocking(False)
    print(sock.getsockname()[1], flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    due = []  # (time, sequence, reply, address)
    sequence = 0
    while True:
        timeout = max(0.0, due[0][0] - time.monotonic()) if due else None
        readable, _, _ = select.select([sock], [], [], timeout)
        if readable:
            while True:
                try:
                    packet, address = sock.recvfrom(4096)
                except BlockingIOError:
                    break
                reply = answer(packet)
                if reply is not None:
                    sequence += 1
                    heapq.heappush(due, (time.monotonic() + args.delay / 1000, sequence, reply, address))
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, _, reply, address = heapq.heappop(due)
            sock.sendto(reply, address)


if __name__ == "__main__":
    main()
