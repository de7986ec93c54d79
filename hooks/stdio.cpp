#include "stdio.hpp"

#include "blocking_io.hpp"
#include "hook.hpp"
#include "keyed_lock.hpp"

#include <cerrno>
#include <cstring>
#include <sys/epoll.h>

extern "C" int __underflow(FILE*);
extern "C" int __uflow(FILE*);
extern "C" int fflush_unlocked(FILE*);

namespace green::hooks::stdio {

stream green_stream(FILE* fp, bool reading)
{
    stream s;
    if (!fp || !(fp->_flags & flag::is_filebuf) || fp->_fileno < 0)
        return s;
    if (fp->_flags & (reading ? flag::no_reads : flag::no_writes))
        return s;  // glibc fails the call at once (EBADF)
    int saved = errno;  // classifying an fd the first time may leave errno set
    fd_info info = fd_table::lookup(fp->_fileno);
    errno = saved;
    if (!(reading ? info.green_for_reading() : info.green_for_writing()))
        return s;
    s.fd = fp->_fileno;
    s.info = info;
    return s;
}

namespace {
// The calling flow's innermost call_lock: per green thread, since each has a TCB of its own.
__thread call_lock* innermost_call __attribute__((tls_model("initial-exec")));
}  // namespace

call_lock::call_lock(FILE* fp) : fp_(fp), glibc_(!(fp->_flags & flag::user_lock)),
                                 outer_(innermost_call)
{
    int saved = errno;
    keyed_lock::lock(fp_);
    if (glibc_)
        GREEN_REAL(flockfile)(fp_);
    innermost_call = this;
    errno = saved;
}

call_lock::~call_lock()
{
    int saved = errno;
    innermost_call = outer_;
    if (glibc_)
        GREEN_REAL(funlockfile)(fp_);
    keyed_lock::unlock(fp_);
    errno = saved;
}

int call_lock::glibc_holds(FILE* fp)
{
    int n = 0;
    for (call_lock* c = innermost_call; c; c = c->outer_)
        n += c->fp_ == fp && c->glibc_;
    return n;
}

namespace {

// Parks until `events` on the stream's fd, as the blocking read or write inside glibc would
// have waited. A failed wait is reported as glibc reports a failed transfer: the error flag.
//
// glibc's FILE lock, as far as this flow's call_locks hold it, is let go for the park and taken
// back after it: it belongs to
// the green thread's own TCB, and another green thread of the hub that then met it (feof,
// ftell, ungetc, fflush(NULL), any stdio call no hook sees) would wait in an inline futex call
// and block the hub thread for good. Green threads still keep out of the FILE meanwhile: they
// wait for call_lock's address lock, which stays held. At a park the buffer is empty (a
// reader) or about to be written out (a writer): a state glibc's own calls accept.
bool await(FILE* fp, const stream& s, std::uint32_t events, std::uint64_t timeout)
{
    io_wait w(s.fd, s.info, events, timeout);
    int holds = call_lock::glibc_holds(fp);
    for (;;) {
        if (w.ready_now())
            return true;
        for (int i = 0; i < holds; ++i)
            GREEN_REAL(funlockfile)(fp);
        wait_outcome outcome = w.wait();
        int saved = errno;
        for (int i = 0; i < holds; ++i)
            GREEN_REAL(flockfile)(fp);
        errno = saved;
        switch (outcome) {
        case wait_outcome::retry: continue;
        case wait_outcome::block_natively: return true;
        case wait_outcome::fail:
            fp->_flags |= flag::err_seen;
            return false;
        }
    }
}

}  // namespace

bool await_input(FILE* fp, const stream& s)
{
    if (!underflow_reads(fp))
        return true;
    int saved = errno;
    // __underflow writes what a read-after-write stream still holds before it reads: that
    // write is made green first.
    if ((fp->_flags & flag::currently_putting) && fp->_IO_write_ptr > fp->_IO_write_base &&
        s.info.writable()) {
        if (!await(fp, s, EPOLLOUT, s.info.send_timeout))
            return false;
        if (GREEN_REAL(fflush_unlocked)(fp) == EOF)
            return true;  // __underflow fails the same way, with glibc's errno and flags
    }
    if (!await(fp, s, EPOLLIN, s.info.recv_timeout))
        return false;
    errno = saved;
    return true;
}

bool await_readable(FILE* fp, const stream& s)
{
    int saved = errno;
    if (!await(fp, s, EPOLLIN, s.info.recv_timeout))
        return false;
    errno = saved;
    return true;
}

int underflow(FILE* fp, const stream& s)
{
    if (!await_input(fp, s))
        return EOF;
    return GREEN_REAL(__underflow)(fp);
}

int uflow(FILE* fp, const stream& s)
{
    if (!await_input(fp, s))
        return EOF;
    return GREEN_REAL(__uflow)(fp);
}

bool await_output(FILE* fp, const stream& s)
{
    int saved = errno;
    if (!await(fp, s, EPOLLOUT, s.info.send_timeout))
        return false;
    errno = saved;
    return true;
}

void await_close(FILE* fp)
{
    if (!green_caller() || !fp || !(fp->_flags & flag::currently_putting) ||
        fp->_IO_write_ptr <= fp->_IO_write_base || fp->_mode > 0)
        return;
    stream s = green_stream(fp, false);
    if (!s)
        return;
    int saved = errno;
    int had_error = fp->_flags & flag::err_seen;
    call_lock lock(fp);
    if (!await(fp, s, EPOLLOUT, s.info.send_timeout) && !had_error)
        fp->_flags &= ~flag::err_seen;
    errno = saved;
}

}  // namespace green::hooks::stdio
