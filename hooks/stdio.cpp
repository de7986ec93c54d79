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
        flockfile(fp_);
    errno = saved;
}

call_lock::~call_lock()
{
    int saved = errno;
    if (!(fp_->_flags & flag::user_lock))
        funlockfile(fp_);
    keyed_lock::unlock(fp_);
    errno = saved;
}

bool underflow_reads(const FILE* fp)
{
    if ((fp->_flags & (flag::eof_seen | flag::no_reads)) || fp->_mode > 0)
        return false;
    // A stream in write mode (read after write on "r+") is switched to reading, its get area
    // empty, by __underflow.
    if (fp->_flags & flag::currently_putting)
        return true;
    if (fp->_IO_read_ptr < fp->_IO_read_end)
        return false;
    // After ungetc past the buffer's start the get area is a backup area; __underflow goes
    // back to the main one (its unread bytes are _IO_save_base.._IO_save_end) before reading.
    if ((fp->_flags & flag::in_backup) && fp->_IO_save_base < fp->_IO_save_end)
        return false;
    return true;
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

bool write_flushes(const FILE* fp, const char* data, std::size_t n)
{
    if (n == 0)
        return false;
    if (fp->_flags & flag::unbuffered)
        return true;
    std::size_t space;
    if (!fp->_IO_buf_base) {
        // No buffer yet: glibc allocates st_blksize bytes (1 KiB on a tty, 4 KiB on pipes and
        // sockets) at the first write; assume the smallest.
        space = 1024;
    } else if (fp->_flags & flag::currently_putting) {
        // A line-buffered stream keeps _IO_write_end at the buffer's start (every putc goes
        // through __overflow); its room is up to the buffer's end.
        char* end = (fp->_flags & flag::line_buf) ? fp->_IO_buf_end : fp->_IO_write_end;
        space = std::size_t(end - fp->_IO_write_ptr);
    } else {
        // The first write after reads starts the put area where reading stopped.
        const char* start = fp->_IO_read_ptr && fp->_IO_read_ptr != fp->_IO_buf_end
                                ? fp->_IO_read_ptr
                                : fp->_IO_buf_base;
        space = std::size_t(fp->_IO_buf_end - start);
    }
    if (n > space)
        return true;
    if (fp->_flags & flag::line_buf)
        return !data || std::memchr(data, '\n', n) != nullptr;
    return false;
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
