#!/usr/bin/python3
"""A small authoritative DNS server for the tests, on loopback UDP, standard library only.

usage: dns_server.py [--delay MS] [--port PORT] [--port-file FILE]

Binds 127.0.0.1 on a port the kernel picks and prints that port on stdout (one line, then
nothing more), or writes it to --port-file. It answers from the fixed zone below and never
forwards anything: names it does not know are NXDOMAIN, so a test can never reach real DNS.

Behaviours chosen by name, so that one server serves every case at once:
  *.slow.test      A 192.0.2.<n> after --delay ms (default 200); answers are delayed
                   concurrently, a heap of due times, never one after another
  *.drop.test      never answered (the client times out)
  *.servfail.test  SERVFAIL
  count.NAME       TXT: how many queries for NAME (any type) the server has seen
Everything else is case-insensitive lookup in ZONE; a name in the zone without records of
the asked type is NOERROR with no answers (NODATA).
"""

import argparse
import heapq
import select
import socket
import struct
import sys
import time

A, NS, CNAME, PTR, TXT, AAAA = 1, 2, 5, 12, 16, 28
NOERROR, SERVFAIL, NXDOMAIN = 0, 2, 3
TTL = 60

# name -> list of (type, value); values: dotted quad, IPv6 text, or a name.
ZONE = {
    "host.test": [(A, "192.0.2.1"), (AAAA, "2001:db8::1")],
    "alias.test": [(CNAME, "host.test")],
    "alias2.test": [(CNAME, "alias.test")],
    "v4only.test": [(A, "192.0.2.4")],
    "v6only.test": [(AAAA, "2001:db8::6")],
    "multi.test": [(A, "192.0.2.11"), (A, "192.0.2.12"), (A, "192.0.2.13")],
    "web.test": [(A, "127.0.0.1")],
    "www.test": [(CNAME, "web.test")],
    "dual.test": [(A, "127.0.0.1"), (AAAA, "::1")],
    "empty.test": [],
    "1.2.0.192.in-addr.arpa": [(PTR, "host.test")],
    "4.2.0.192.in-addr.arpa": [(PTR, "v4only.test")],
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa":
        [(PTR, "host.test")],
    "9.2.0.192.in-addr.arpa": [(CNAME, "servfail.servfail.test")],
}


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode()
            out += bytes([len(raw)]) + raw
    return out + b"\0"


def decode_name(packet, offset):
    labels = []
    while True:
        length = packet[offset]
        if length == 0:
            return ".".join(labels), offset + 1
        if length & 0xC0:
            raise ValueError("compressed question name")
        labels.append(packet[offset + 1:offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length


def rdata(rtype, value):
    if rtype == A:
        return socket.inet_pton(socket.AF_INET, value)
    if rtype == AAAA:
        return socket.inet_pton(socket.AF_INET6, value)
    if rtype in (CNAME, PTR):
        return encode_name(value)
    if rtype == TXT:
        raw = value.encode()
        return bytes([len(raw)]) + raw
    raise ValueError(rtype)


def record(owner, rtype, value):
    data = rdata(rtype, value)
    return encode_name(owner) + struct.pack("!HHIH", rtype, 1, TTL, len(data)) + data


class Server:
    def __init__(self, delay):
        self.delay = delay
        self.counts = {}
        self.pending = []  # heap of (due, seq, reply, address)
        self.seq = 0

    def answer(self, qname, qtype):
        """Returns (rcode, answer records) or None to drop the query."""
        name = qname.lower().rstrip(".")
        if name.startswith("count."):
            counted = name[len("count."):]
            return NOERROR, [record(qname, TXT, str(self.counts.get(counted, 0)))]
        self.counts[name] = self.counts.get(name, 0) + 1
        if name.endswith(".drop.test"):
            return None
        if name.endswith(".servfail.test"):
            return SERVFAIL, []
        if name.endswith(".slow.test"):
            if qtype != A:
                return NOERROR, []
            n = sum(name.encode()) % 250 + 1
            return NOERROR, [record(qname, A, "192.0.2.%d" % n)]
        answers = []
        owner = qname
        for _ in range(8):  # follow CNAMEs inside the zone, as an authoritative server does
            rrs = ZONE.get(owner.lower().rstrip("."))
            if rrs is None:
                return (NXDOMAIN if not answers else NOERROR), answers
            cname = [v for t, v in rrs if t == CNAME]
            if cname and qtype != CNAME:
                answers.append(record(owner, CNAME, cname[0]))
                owner = cname[0]
                if owner.endswith(".servfail.test"):
                    return SERVFAIL, []
                continue
            answers += [record(owner, t, v) for t, v in rrs if t == qtype]
            return NOERROR, answers
        return SERVFAIL, []

    def handle(self, packet):
        """Returns (reply bytes, delay in seconds) or None."""
        if len(packet) < 12:
            return None
        qid, flags, qdcount = struct.unpack("!HHH", packet[:6])
        if flags & 0x8000 or qdcount != 1:
            return None
        try:
            qname, end = decode_name(packet, 12)
        except (ValueError, IndexError):
            return None
        qtype, qclass = struct.unpack("!HH", packet[end:end + 4])
        question = packet[12:end + 4]
        result = self.answer(qname, qtype)
        if result is None:
            return None
        rcode, answers = result
        reply_flags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode  # QR AA RD RA
        header = struct.pack("!HHHHHH", qid, reply_flags, 1, len(answers), 0, 0)
        delay = self.delay if qname.lower().rstrip(".").endswith(".slow.test") else 0.0
        return header + question + b"".join(answers), delay

    def serve(self, sock):
        while True:
            timeout = None
            if self.pending:
                timeout = max(0.0, self.pending[0][0] - time.monotonic())
            readable, _, _ = select.select([sock], [], [], timeout)
            if readable:
                for _ in range(256):
                    try:
                        packet, address = sock.recvfrom(4096)
                    except BlockingIOError:
                        break
                    result = self.handle(packet)
                    if result is None:
                        continue
                    reply, delay = result
                    if delay <= 0:
                        sock.sendto(reply, address)
                    else:
                        self.seq += 1
                        heapq.heappush(self.pending,
                                       (time.monotonic() + delay, self.seq, reply, address))
            now = time.monotonic()
            while self.pending and self.pending[0][0] <= now:
                _, _, reply, address = heapq.heappop(self.pending)
                sock.sendto(reply, address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--delay", type=int, default=200, help="delay of *.slow.test answers, ms")
    ap.add_argument("--port-file", help="write the port here instead of stdout")
    ap.add_argument("--port", type=int, default=0,
                    help="bind this port (53 in a network namespace of the test's own)")
    args = ap.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(("127.0.0.1", args.port))
    sock.setblocking(False)
    port = sock.getsockname()[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    else:
        print(port, flush=True)
    try:
        Server(args.delay / 1000.0).serve(sock)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
