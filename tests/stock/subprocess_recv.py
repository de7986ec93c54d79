#!/usr/bin/env python3
"""A thread blocked in sock.recv while the main thread runs subprocess.run(["true"]) ten times.

CPython's subprocess spawns with vfork, and its child closes every fd above 2 (close_range)
before exec: the child's fds are its own copies, so the parent's receiving thread must keep
waiting and then get its data, not OSError(EBADF). Prints only what is the same in every run.
"""
import socket
import subprocess
import threading

a, b = socket.socketpair()
result = []


def receive():
    try:
        result.append(a.recv(100))
    except OSError as e:
        result.append("OSError(%s)" % e.strerror)


t = threading.Thread(target=receive)
t.start()
statuses = [subprocess.run(["true"]).returncode for _ in range(10)]
statuses += [subprocess.run(["true"], close_fds=True, stdout=subprocess.PIPE).returncode]
print("children:", statuses)
print("receiver done before the data:", bool(result), result)
b.sendall(b"after the children")
t.join()
print("received:", result)
