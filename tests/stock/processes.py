#!/usr/bin/env python3
"""The python3 processes case: subprocess, signal and os.fork.

subprocess.run and Popen with pipes (Python spawns with vfork or posix_spawn), a timeout that
kills, os.fork with the child reading a pipe before answering, os.wait/os.waitpid/os.waitid,
signal handlers interrupting time.sleep and os.read, signal.sigtimedwait, signal.pause with an
alarm, and a SIGCHLD handler. Prints only what is the same in every run.
"""
import os
import signal
import subprocess
import sys
import time

print("== subprocess")
r = subprocess.run(["sh", "-c", "echo out; echo err >&2; exit 3"], capture_output=True)
print("run:", r.returncode, r.stdout, r.stderr)
p = subprocess.Popen(["sh", "-c", "read x; sleep 0.05; echo got $x"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE)
out, _ = p.communicate(b"hello\n")
print("communicate:", p.returncode, out)
try:
    subprocess.run(["sleep", "5"], timeout=0.2)
except subprocess.TimeoutExpired:
    print("timeout expired")
print("check_output:", subprocess.check_output("echo a | tr a A", shell=True))
procs = [subprocess.Popen(["sh", "-c", f"sleep 0.0{i}; exit {i}"]) for i in range(1, 6)]
print("statuses:", [q.wait() for q in procs])

print("== os.fork")
r_fd, w_fd = os.pipe()
back_r, back_w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w_fd)
    data = os.read(r_fd, 100)  # blocks until the parent writes
    os.write(back_w, data.upper())
    os._exit(7)
os.close(r_fd)
time.sleep(0.05)
os.write(w_fd, b"from the parent")
print("child answered:", os.read(back_r, 100))
wpid, status = os.waitpid(pid, 0)
print("waitpid:", wpid == pid, os.waitstatus_to_exitcode(status))
pid = os.fork()
if pid == 0:
    time.sleep(0.05)
    os._exit(8)
wpid, status = os.wait()
print("wait:", wpid == pid, os.waitstatus_to_exitcode(status))
pid = os.fork()
if pid == 0:
    time.sleep(0.05)
    os._exit(9)
info = os.waitid(os.P_PID, pid, os.WEXITED)
print("waitid:", info.si_pid == pid, info.si_status)

print("== signals")
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append("USR1"))
os.kill(os.getpid(), signal.SIGUSR1)
print("handler:", got)


class Interrupted(Exception):
    pass


def raise_interrupted(s, f):
    raise Interrupted()


signal.signal(signal.SIGALRM, raise_interrupted)
signal.setitimer(signal.ITIMER_REAL, 0.05)
t0 = time.monotonic()
try:
    time.sleep(5)
except Interrupted:
    print("sleep interrupted early:", time.monotonic() - t0 < 4)
signal.setitimer(signal.ITIMER_REAL, 0.05)
try:
    os.read(back_r, 10)  # nothing comes: the alarm interrupts
except Interrupted:
    print("read interrupted")
signal.signal(signal.SIGALRM, lambda s, f: got.append("ALRM"))
signal.setitimer(signal.ITIMER_REAL, 0.05)
signal.pause()
print("pause returned after:", got[-1])
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
pid = os.fork()
if pid == 0:
    time.sleep(0.05)
    os.kill(os.getppid(), signal.SIGUSR2)
    os._exit(0)
si = signal.sigtimedwait({signal.SIGUSR2}, 5)
print("sigtimedwait:", si.si_signo == signal.SIGUSR2, si.si_pid == pid)
os.waitpid(pid, 0)
print("sigtimedwait timeout:", signal.sigtimedwait({signal.SIGUSR2}, 0.05))
chld = []
signal.signal(signal.SIGCHLD, lambda s, f: chld.append(1))
r = subprocess.run(["sleep", "0.05"])
print("SIGCHLD seen:", len(chld) >= 1, "returncode", r.returncode)
sys.stdout.flush()
