#include "stdio_buffer.hpp"

#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace green::stdio_buffer {

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

bool write_flushes(const FILE* fp, const char* data, std::size_t n)
{
    if (n == 0)
        return false;
    if (fp->_flags & flag::unbuffered)
        return true;
    bool line_buffered = fp->_flags & flag::line_buf;
    if (fp->_IO_buf_base && (fp->_flags & flag::currently_putting)) {
        // Bytes that do not fit are a flush. A line-buffered stream keeps _IO_write_end at the
        // buffer's start (every putc goes through __overflow); its room is up to the end.
        char* end = line_buffered ? fp->_IO_buf_end : fp->_IO_write_end;
        if (n > std::size_t(end - fp->_IO_write_ptr))
            return true;
        return line_buffered && (!data || std::memchr(data, '\n', n) != nullptr);
    }
    // The first write (or the first after reading) sets up the put area, writes whole buffers
    // of what it is given straight to the fd, and copies the rest into the buffer.
    std::size_t block, room;
    if (!fp->_IO_buf_base) {
        // No buffer yet: it is allocated as _IO_file_doallocate does, st_blksize bytes up to
        // BUFSIZ, and a terminal's stream becomes line-buffered.
        struct stat st;
        int saved = errno;
        block = BUFSIZ;
        if (fp->_fileno >= 0 && fstat(fp->_fileno, &st) == 0) {
            if (S_ISCHR(st.st_mode) && isatty(fp->_fileno))
                line_buffered = true;
            if (st.st_blksize > 0 && st.st_blksize < BUFSIZ)
                block = std::size_t(st.st_blksize);
        }
        errno = saved;
        room = block;
    } else {
        // After reads the put area starts where reading stopped.
        block = std::size_t(fp->_IO_buf_end - fp->_IO_buf_base);
        const char* start = fp->_IO_read_ptr && fp->_IO_read_ptr != fp->_IO_buf_end
                                ? fp->_IO_read_ptr
                                : fp->_IO_buf_base;
        room = std::size_t(fp->_IO_buf_end - start);
    }
    // glibc writes everything straight away through a buffer under 128 bytes.
    if (block < 128 || n >= block || n > room)
        return true;
    return line_buffered && (!data || std::memchr(data, '\n', n) != nullptr);
}

bool putc_flushes(const FILE* fp, char c)
{
    if (fp->_flags & flag::unbuffered)
        return true;
    bool line_buffered = fp->_flags & flag::line_buf;
    if (fp->_IO_buf_base && (fp->_flags & flag::currently_putting)) {
        char* end = line_buffered ? fp->_IO_buf_end : fp->_IO_write_end;
        if (fp->_IO_write_ptr >= end)
            return true;
    } else if (!fp->_IO_buf_base && fp->_fileno >= 0) {
        struct stat st;
        int saved = errno;
        if (fstat(fp->_fileno, &st) == 0 && S_ISCHR(st.st_mode) && isatty(fp->_fileno))
            line_buffered = true;
        errno = saved;
    }
    return line_buffered && c == '\n';
}

bool pending_output(const FILE* fp)
{
    return (fp->_flags & flag::currently_putting) && fp->_IO_write_ptr > fp->_IO_write_base;
}

}  // namespace green::stdio_buffer
