// What the stdio hooks share. glibc's stdio reads and writes its fd with internal calls no hook
// sees, so a green stdio call waits for the fd itself and lets glibc do each transfer only once
// it cannot block: readers park until the fd is readable right before glibc's own __underflow
// or __uflow refills the buffer (one read), writers park until the fd is writable right before
// a call that would flush. Everything else, the buffer, its pointers, the EOF and error flags
// and the file position, stays glibc's. What glibc is about to do is read from the FILE's public
// fields (runtime/stdio_buffer.hpp).
#pragma once

#include "fd_table.hpp"
#include "stdio_buffer.hpp"

#include <cstddef>
#include <cstdio>

namespace green::hooks::stdio {

namespace flag = stdio_buffer::flag;
using stdio_buffer::pending_output;
using stdio_buffer::putc_flushes;
using stdio_buffer::underflow_reads;
using stdio_buffer::write_flushes;

// A stream whose calls are made green: an fd-backed FILE (not fopencookie, fmemopen or
// open_memstream, which have no fd of their own, and whose cookie functions call the hooked
// read and write anyway) on a socket, pipe, FIFO or tty in blocking mode, open for the
// direction asked. `fd` is -1 for every other stream, which goes straight to glibc.
struct stream {
    int fd = -1;
    fd_info info;
    explicit operator bool() const { return fd >= 0; }
};

stream green_stream(FILE* fp, bool reading);

// For one whole call, as glibc's own locked functions hold the FILE's lock: first a lock on the
// FILE's address that green threads of every hub wait for by parking (so one green thread that
// parks inside fgets does not let another green thread into the same FILE), then glibc's own
// recursive FILE lock (flockfile), unless the program took locking over with __fsetlocking
// (_IO_USER_LOCK). glibc's lock is let go while the call parks (await, stdio.cpp).
class call_lock {
public:
    explicit call_lock(FILE* fp);
    ~call_lock();
    call_lock(const call_lock&) = delete;
    call_lock& operator=(const call_lock&) = delete;

    // How many times the calling flow's open call_locks hold glibc's lock on `fp`.
    static int glibc_holds(FILE* fp);

private:
    FILE* fp_;
    bool glibc_;            // took glibc's lock
    call_lock* outer_;      // the flow's enclosing call_lock (a green thread's TLS is its own)
};

// Parks until the fd is readable, when underflow_reads(fp). False when the wait failed (a
// signal handler ran, another thread closed the fd, SO_RCVTIMEO passed): then errno says why
// and the stream's error flag is set, as glibc's underflow does when its read fails.
bool await_input(FILE* fp, const stream& s);

// Parks until the fd is readable, whatever the buffer holds (glibc's direct reads into the
// caller's memory). False as await_input.
bool await_readable(FILE* fp, const stream& s);

// glibc's __underflow and __uflow (the next byte, left in or taken from the buffer; EOF at end
// of file or on error, with the stream's flags set), made green by await_input.
int underflow(FILE* fp, const stream& s);
int uflow(FILE* fp, const stream& s);

// Parks until the fd is writable. False as await_input, with the error flag set.
bool await_output(FILE* fp, const stream& s);

// fclose writes what the buffer holds before it closes: parks until the fd can take it (a
// green caller's fd-backed stream in write mode with bytes pending). A failed wait is left
// for fclose's own write to report.
void await_close(FILE* fp);

}  // namespace green::hooks::stdio
