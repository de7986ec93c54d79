#!/usr/bin/env python3
"""Many concurrent HTTP/1.0 clients against one server, every response verified.

  http_load.py PORT DOCROOT CLIENTS REQUESTS [--pid PID] [--json] [--request-timeout S]

CLIENTS asyncio tasks run at once; each makes REQUESTS requests in turn, a new connection each
(http.server speaks HTTP/1.0), cycling through the files in DOCROOT and, once per client, a
missing path. Every 200 must carry exactly the file's bytes with a matching Content-Length,
every missing path a 404.

Prints only what is the same in every correct run (counts and verdicts), so that a native and a
green server can be compared byte for byte. With --json it prints figures instead: requests/s,
and with --pid the peak of the server's OS threads (Threads: in /proc/PID/status, sampled every
5 ms); those are for tools/bench/stock, never asserted.
"""
import argparse
import asyncio
import json
import os
import sys
import time

# A request may wait behind many others on a loaded machine, but one that takes REQUEST_TIMEOUT
# (--request-timeout) has been lost (a damaged request leaves the server waiting for the rest of
# it). The whole load stops at the first wrong response, so a broken server fails quickly.
REQUEST_TIMEOUT = 30
TIMEOUT = 110


class Failed(Exception):
    pass


def load_docroot(path):
    files = {}
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isfile(full):
            with open(full, "rb") as f:
                files["/" + name] = f.read()
    return files


async def fetch(port, path):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        await writer.drain()
        response = await reader.read()  # to EOF: the server closes after one response
    finally:
        writer.close()
    head, sep, body = response.partition(b"\r\n\r\n")
    if not sep:
        return None, {}, b""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return status, headers, body


async def client(index, port, files, requests, tally, request_timeout):
    paths = list(files)
    for n in range(requests):
        # Once per client (not at the same step for all), a path that does not exist.
        missing = n == index % requests
        path = "/no-such-file" if missing else paths[(index + n) % len(paths)]
        try:
            status, headers, body = await asyncio.wait_for(fetch(port, path), request_timeout)
        except (OSError, asyncio.TimeoutError) as e:
            key = (f"no response within {request_timeout:g} s" if isinstance(e, asyncio.TimeoutError)
                   else type(e).__name__)
            tally["errors"][key] = tally["errors"].get(key, 0) + 1
            raise Failed() from e
        if missing:
            ok = status == 404
        else:
            ok = (status == 200 and body == files[path]
                  and headers.get("content-length") == str(len(files[path])))
        if ok:
            tally["verified"] += 1
            tally["bytes"] += 0 if missing else len(body)
        else:
            key = f"status {status} for {'a missing path' if missing else 'a file'}"
            if status == 200:
                key = f"wrong body for {path} ({len(body)} bytes)"
            tally["errors"][key] = tally["errors"].get(key, 0) + 1
            raise Failed()


async def sample_threads(pid, peak, stop):
    path = f"/proc/{pid}/status"
    while not stop.is_set():
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("Threads:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
                        break
        except OSError:
            pass
        try:
            await asyncio.wait_for(stop.wait(), 0.005)
        except asyncio.TimeoutError:
            pass


async def run(args, files):
    tally = {"verified": 0, "bytes": 0, "errors": {}}
    peak, stop = [0], asyncio.Event()
    sampler = asyncio.create_task(sample_threads(args.pid, peak, stop)) if args.pid else None
    start = time.monotonic()
    tasks = [asyncio.create_task(client(i, args.port, files, args.requests, tally,
                                        args.request_timeout))
             for i in range(args.clients)]
    limit = max(TIMEOUT, 4 * args.request_timeout)
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), limit)
    except Failed:
        tally["errors"]["stopped at the first failure"] = 1
    except asyncio.TimeoutError:
        tally["errors"][f"not finished within {limit:g} s"] = 1
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = time.monotonic() - start
    stop.set()
    if sampler:
        await sampler
    return tally, elapsed, peak[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("docroot")
    parser.add_argument("clients", type=int)
    parser.add_argument("requests", type=int)
    parser.add_argument("--pid", type=int)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--request-timeout", type=float, default=REQUEST_TIMEOUT)
    args = parser.parse_args()
    files = load_docroot(args.docroot)
    tally, elapsed, peak = asyncio.run(run(args, files))
    total = args.clients * args.requests
    if args.json:
        print(json.dumps({"requests": total, "verified": tally["verified"],
                          "errors": sum(tally["errors"].values()),
                          "seconds": round(elapsed, 3),
                          "requests_per_s": round(tally["verified"] / elapsed, 1),
                          "first_errors": sorted(tally["errors"])[:3],
                          "peak_threads": peak}))
    else:
        print(f"{args.clients} clients x {args.requests} requests over {len(files)} files "
              f"and a missing path: {tally['verified']} of {total} responses verified, "
              f"{tally['bytes']} body bytes")
        for key, count in sorted(tally["errors"].items()):
            print(f"error: {key}: {count}")
    sys.exit(0 if tally["verified"] == total else 1)


if __name__ == "__main__":
    main()
