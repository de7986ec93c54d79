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

call_lock::call_lock(FILE* fp) : fp_(fp)
{
    int saved = errno;
    keyed_lock::lock(fp_);
    if (!(fp_->_flags & flag::user_lock))
        GREEN_REAL(flockfile)(fp_);
    errno = saved;
}

call_lock::~call_lock()
{
    int saved = errno;
    if (!(fp_->_flags & flag::user_lock))
        GREEN_REAL(funlockfile)(fp_);
    keyed_lock::unlock(fp_);
    errno = saved;
}

namespace {

// Parks until `events` on the stream's fd, as the blocking read or write inside glibc would
// have waited. A failed wait is reported as glibc reports a failed transfer: the error flag.
bool await(FILE* fp, const stream& s, std::uint32_t events, std::uint64_t timeout)
{
    io_wait w(s.fd, s.info, events, timeout);
    for (;;) {
        if (w.ready_now())
            return true;
        switch (w.wait()) {
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
