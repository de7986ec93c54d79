#!/usr/bin/env python3
"""The hook list against the system libc (DESIGN.md, rule 3).

Every entry point the system libc exports in a family that can block or that opens or closes
fds must be either exported by libgreen.so (hooked) or named in not_hooked.txt with a reason.
A new glibc with a new fortified or aliased entry point (say __recvmsg_chk) then fails here
instead of silently blocking a hub. Names in not_hooked.txt that libgreen now hooks, or that
libc no longer has, fail too, so the list stays true.

usage: check_hook_list.py NM LIBC LIBGREEN NOT_HOOKED_TXT
"""
import re
import subprocess
import sys

# The families, as regular expressions on the bare symbol name (version stripped).
FAMILIES = [
    r"(__)?(read|readv|write|writev)(_chk|_nocancel)?",
    r"(__)?p(read|write)(v)?(64)?(v2)?(_chk|_nocancel)?",
    r"(__)?(recv|recvfrom|recvmsg|recvmmsg|send|sendto|sendmsg|sendmmsg)(_chk)?",
    r"(__)?(accept|accept4|connect)",
    r"(__)?(sleep|usleep|nanosleep|clock_nanosleep)",
    r"(__)?(poll|ppoll|select|pselect|epoll_wait|epoll_pwait|epoll_pwait2)(_chk)?",
    r"(__)?(getaddrinfo|getnameinfo|gethostbyname2?(_r)?|gethostbyaddr(_r)?)",
    r"(__)?(wait|waitpid|wait3|wait4|waitid|sigwait|sigwaitinfo|sigtimedwait|sigsuspend|pause)",
    r"(__)?(sendfile|sendfile64|splice|tee|vmsplice|copy_file_range|msgrcv|msgsnd|semop"
    r"|semtimedop|mq_(timed)?(receive|send))",
    r"(__)?(socket|socketpair|pipe|pipe2|close|close_range|closefrom|dup|dup2|dup3|fclose|pclose)(_nocancel)?",
    r"(__)?(fcntl|fcntl64|epoll_create|epoll_create1|eventfd|flock|lockf)",
    # an open of a FIFO waits for its other end
    r"(__)?(open|open64|openat|openat64|creat|creat64|fopen|fopen64)(_2|_nocancel)?",
    # threads: whatever takes a pthread_t, and every synchronisation object
    r"(__)?pthread_(create|join|tryjoin_np|timedjoin_np|clockjoin_np|detach|exit|self|cancel"
    r"|testcancel|setcancelstate|setcanceltype|once|key_create|key_delete|getspecific"
    r"|setspecific|getattr_np|setname_np|getname_np|getschedparam|setschedparam|setschedprio"
    r"|getcpuclockid|getaffinity_np|setaffinity_np|kill|sigqueue|yield)",
    r"(__)?pthread_(mutex|cond|rwlock|barrier|spin)_[a-z_]+",
    r"__pthread_(register_cancel|unregister_cancel|register_cancel_defer"
    r"|unregister_cancel_restore|unwind_next)",
    r"(__)?sem_[a-z_]+",
    r"(thrd|mtx|cnd|tss)_[a-z_]+|call_once|sched_yield",
    # raw system calls: libstdc++'s and Rust's futex waits come through syscall()
    r"syscall",
    # stdio: glibc reads and writes the fd inside these, past the read and write hooks
    r"(__)?(fgets|fgetc|getc|getchar|fread|gets|getline|getdelim|fwrite|fputs|fputc|putc"
    r"|putchar|puts|fflush|fgetws|fgetwc|getwc|getwchar|fputws|fputwc|putwc|putwchar"
    r"|getw|putw)(_unlocked)?(_chk)?|_IO_(getc|putc)|__(uflow|underflow|overflow)",
    r"(__isoc99_)?v?f?w?scanf|__vfscanf|(__)?v?f?w?printf(_chk)?",
]
# libgreen's own public functions (include/green.h), which are not libc names.
API_PREFIX = "green_api_"

FAMILY_RE = re.compile(r"^(?:%s)$" % "|".join(FAMILIES))


def defined_symbols(nm, path):
    out = subprocess.run([nm, "-D", "--defined-only", path], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in "TtWwiI":
            names.add(parts[2].split("@")[0])
    return names


def private_symbols(nm, path):
    out = subprocess.run([nm, "-D", "--defined-only", path], check=True,
                         capture_output=True, text=True).stdout
    return {p[2].split("@")[0] for p in (l.split() for l in out.splitlines())
            if len(p) >= 3 and "GLIBC_PRIVATE" in p[2]}


def read_not_hooked(path):
    entries = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, reason = line.partition(" ")
            if not reason.strip():
                sys.exit("%s:%d: %s has no reason" % (path, number, name))
            entries[name] = reason.strip()
    return entries


def main():
    nm, libc, libgreen, not_hooked_path = sys.argv[1:5]
    libc_names = defined_symbols(nm, libc)
    private = private_symbols(nm, libc)
    hooked = defined_symbols(nm, libgreen)
    not_hooked = read_not_hooked(not_hooked_path)

    blocking = {n for n in libc_names if FAMILY_RE.match(n) and n not in private}
    problems = []
    for name in sorted(blocking):
        if name not in hooked and name not in not_hooked:
            problems.append("libc exports %s, which libgreen neither hooks nor lists in "
                            "not_hooked.txt" % name)
    for name in sorted(not_hooked):
        if name in hooked:
            problems.append("%s is hooked now: remove it from not_hooked.txt" % name)
        elif name not in libc_names:
            problems.append("%s is in not_hooked.txt but libc does not export it" % name)
    for name in sorted(hooked):
        if name not in libc_names and not name.startswith(API_PREFIX):
            problems.append("libgreen exports %s, which libc does not have" % name)

    print("%d entry points in the checked families: %d hooked, %d listed as not hooked"
          % (len(blocking), len(blocking & hooked), len(blocking & set(not_hooked))))
    for p in problems:
        print("FAIL: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
