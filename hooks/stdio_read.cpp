// The stdio byte readers: fgets, getdelim, getline, fread, fgetc, getc, getchar, their
// _unlocked and _chk forms, and __uflow/__underflow, which the inline getc_unlocked and
// getchar_unlocked of <bits/stdio.h> call when the buffer runs dry.
//
// Each reader on a green stream is glibc's own loop (libio's iogets.c, iogetline.c,
// iogetdelim.c, fileops.c's xsgetn): it takes what the buffer holds itself, and when more is
// needed parks until the fd is readable and lets glibc's __underflow or __uflow refill the
// buffer with one read. So a line that arrives in pieces parks between them, and the bytes,
// the buffer, the flags and ftell are what glibc alone would leave.

// <bits/stdio.h> defines getchar, fgetc_unlocked... inline when optimising; this file defines
// those names.
#include <features.h>
#undef __USE_EXTERN_INLINES

#include "hook.hpp"
#include "stdio.hpp"

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <wchar.h>

extern "C" [[noreturn]] void __chk_fail(void);
extern "C" int __underflow(FILE*);
extern "C" int _IO_getc(FILE*);
extern "C" void _IO_doallocbuf(FILE*);
extern "C" char* __fgets_unlocked_chk(char* buf, size_t size, int n, FILE* fp);
extern "C" size_t __fread_unlocked_chk(void* ptr, size_t ptrlen, size_t size, size_t n, FILE* fp);

using namespace green;
using hooks::stdio::stream;

namespace {

namespace st = hooks::stdio;

// The first byte function on an unoriented stream makes it byte-oriented (glibc's _IO_fwide
// with -1); a wide-oriented stream goes straight to glibc, which fails byte reads on it.
bool byte_oriented(FILE* fp)
{
    if (fp->_mode == 0)
        fwide(fp, -1);
    return fp->_mode < 0;
}

stream reading(FILE* fp)
{
    if (!hooks::green_caller())
        return {};
    return st::green_stream(fp, true);
}

// _IO_getline_info with extract_delim 1 (fgets): at most n bytes up to and including delim.
size_t get_line(FILE* fp, const stream& s, char* buf, size_t n, int delim)
{
    char* ptr = buf;
    while (n != 0) {
        ssize_t len = fp->_IO_read_end - fp->_IO_read_ptr;
        if (len <= 0) {
            int c = st::uflow(fp, s);
            if (c == EOF)
                break;
            *ptr++ = char(c);
            if (c == delim)
                return size_t(ptr - buf);
            --n;
        } else {
            if (size_t(len) >= n)
                len = ssize_t(n);
            char* t = static_cast<char*>(std::memchr(fp->_IO_read_ptr, delim, size_t(len)));
            if (t) {
                size_t old_len = size_t(ptr - buf);
                len = t - fp->_IO_read_ptr + 1;
                std::memcpy(ptr, fp->_IO_read_ptr, size_t(len));
                fp->_IO_read_ptr = t + 1;
                return old_len + size_t(len);
            }
            std::memcpy(ptr, fp->_IO_read_ptr, size_t(len));
            fp->_IO_read_ptr += len;
            ptr += len;
            n -= size_t(len);
        }
    }
    return size_t(ptr - buf);
}

// _IO_fgets without its lock: a NULL result for nothing read, or for a read error other than
// EAGAIN; the error flag the stream had before is kept.
char* fgets_body(FILE* fp, const stream& s, char* buf, int n)
{
    if (n <= 0)
        return nullptr;
    if (n == 1) {
        buf[0] = '\0';
        return buf;
    }
    if (!byte_oriented(fp))
        return nullptr;
    int old_error = fp->_flags & st::flag::err_seen;
    fp->_flags &= ~st::flag::err_seen;
    size_t count = get_line(fp, s, buf, size_t(n - 1), '\n');
    char* result;
    if (count == 0 || ((fp->_flags & st::flag::err_seen) && errno != EAGAIN)) {
        result = nullptr;
    } else {
        buf[count] = '\0';
        result = buf;
    }
    fp->_flags |= old_error;
    return result;
}

char* green_fgets(const stream& s, char* buf, int n, FILE* fp, bool locked)
{
    if (!locked)
        return fgets_body(fp, s, buf, n);
    st::call_lock lock(fp);
    return fgets_body(fp, s, buf, n);
}

// _IO_getdelim without its lock.
ssize_t getdelim_body(FILE* fp, const stream& s, char** lineptr, size_t* n, int delim)
{
    if (fp->_flags & st::flag::err_seen)
        return -1;
    if (!byte_oriented(fp))
        return -1;
    if (*lineptr == nullptr || *n == 0) {
        *n = 120;
        *lineptr = static_cast<char*>(std::malloc(*n));
        if (*lineptr == nullptr)
            return -1;
    }
    ssize_t cur_len = 0;
    ssize_t len = fp->_IO_read_end - fp->_IO_read_ptr;
    if (len <= 0) {
        if (st::underflow(fp, s) == EOF)
            return -1;
        len = fp->_IO_read_end - fp->_IO_read_ptr;
    }
    for (;;) {
        char* t = static_cast<char*>(std::memchr(fp->_IO_read_ptr, delim, size_t(len)));
        if (t)
            len = t - fp->_IO_read_ptr + 1;
        if (len >= SSIZE_MAX - cur_len) {
            errno = EOVERFLOW;
            return -1;
        }
        size_t needed = size_t(cur_len + len + 1);
        if (needed > *n) {
            if (needed < 2 * *n)
                needed = 2 * *n;
            char* grown = static_cast<char*>(std::realloc(*lineptr, needed));
            if (!grown)
                return -1;
            *lineptr = grown;
            *n = needed;
        }
        std::memcpy(*lineptr + cur_len, fp->_IO_read_ptr, size_t(len));
        fp->_IO_read_ptr += len;
        cur_len += len;
        if (t || st::underflow(fp, s) == EOF)
            break;
        len = fp->_IO_read_end - fp->_IO_read_ptr;
    }
    (*lineptr)[cur_len] = '\0';
    return cur_len;
}

// _IO_file_xsgetn: what the buffer holds, then refills for requests smaller than the buffer,
// and reads straight into the caller's memory (whole blocks) for larger ones, as glibc does;
// each of those reads waits for the fd first.
size_t xsgetn(FILE* fp, const stream& s, char* dst, size_t n)
{
    size_t want = n;
    while (want > 0) {
        size_t have = size_t(fp->_IO_read_end - fp->_IO_read_ptr);
        if (fp->_IO_read_end < fp->_IO_read_ptr)
            have = 0;
        if (want <= have) {
            std::memcpy(dst, fp->_IO_read_ptr, want);
            fp->_IO_read_ptr += want;
            want = 0;
            break;
        }
        if (have > 0) {
            std::memcpy(dst, fp->_IO_read_ptr, have);
            dst += have;
            want -= have;
            fp->_IO_read_ptr += have;
        }
        if (!fp->_IO_buf_base) {
            if (fp->_IO_save_base) {
                std::free(fp->_IO_save_base);
                fp->_flags &= ~st::flag::in_backup;
            }
            _IO_doallocbuf(fp);
        }
        size_t block = fp->_IO_buf_base ? size_t(fp->_IO_buf_end - fp->_IO_buf_base) : 0;
        // The main get area after pushed-back bytes, and requests smaller than the buffer, go
        // through __underflow.
        if ((fp->_flags & st::flag::in_backup) || (fp->_IO_buf_base && want < block) ||
            (fp->_flags & st::flag::currently_putting)) {
            if (st::underflow(fp, s) == EOF)
                break;
            continue;
        }
        // glibc's direct read, made green: empty get and put areas, then whole blocks.
        fp->_IO_read_base = fp->_IO_read_ptr = fp->_IO_read_end = fp->_IO_buf_base;
        fp->_IO_write_base = fp->_IO_write_ptr = fp->_IO_buf_base;
        fp->_IO_write_end = fp->_IO_buf_base;
        size_t count = want;
        if (block >= 128)
            count -= want % block;
        // The direct read ignores a sticky EOF, as glibc's does; only its wait is added.
        ssize_t r = st::await_readable(fp, s) ? GREEN_REAL(read)(s.fd, dst, count) : -1;
        if (r <= 0) {
            fp->_flags |= r == 0 ? st::flag::eof_seen : st::flag::err_seen;
            break;
        }
        dst += r;
        want -= size_t(r);
        if (fp->_offset != -1)
            fp->_offset += r;
    }
    return n - want;
}

size_t fread_body(FILE* fp, const stream& s, void* ptr, size_t size, size_t count)
{
    size_t bytes = size * count;
    if (bytes == 0)
        return 0;
    if (!byte_oriented(fp))
        return 0;
    size_t got = xsgetn(fp, s, static_cast<char*>(ptr), bytes);
    return got == bytes ? count : got / size;
}

size_t green_fread(void* ptr, size_t size, size_t count, FILE* fp, bool locked, bool& handled)
{
    stream s = reading(fp);
    handled = bool(s);
    if (!s)
        return 0;
    if (!locked)
        return fread_body(fp, s, ptr, size, count);
    st::call_lock lock(fp);
    return fread_body(fp, s, ptr, size, count);
}

void check_fread_size(size_t ptrlen, size_t size, size_t n)
{
    size_t bytes = size * n;
    if ((n | size) >= (size_t(1) << (8 * sizeof(size_t) / 2)) && size != 0 && bytes / size != n)
        __chk_fail();
    if (bytes > ptrlen)
        __chk_fail();
}

// fgetc, getc: one byte, from the buffer or one refill.
int getc_body(FILE* fp, const stream& s)
{
    if (fp->_IO_read_ptr < fp->_IO_read_end)
        return static_cast<unsigned char>(*fp->_IO_read_ptr++);
    return st::uflow(fp, s);
}

template <class Plain>
int green_getc(FILE* fp, bool locked, Plain&& plain)
{
    stream s = reading(fp);
    if (!s || fp->_mode > 0)
        return plain();
    if (!locked)
        return getc_body(fp, s);
    st::call_lock lock(fp);
    return getc_body(fp, s);
}

}  // namespace

GREEN_HOOK char* fgets(char* buf, int n, FILE* fp)
{
    stream s = reading(fp);
    if (!s)
        return GREEN_REAL(fgets)(buf, n, fp);
    return green_fgets(s, buf, n, fp, true);
}

GREEN_HOOK char* fgets_unlocked(char* buf, int n, FILE* fp)
{
    stream s = reading(fp);
    if (!s)
        return GREEN_REAL(fgets_unlocked)(buf, n, fp);
    return green_fgets(s, buf, n, fp, false);
}

GREEN_HOOK char* __fgets_chk(char* buf, size_t size, int n, FILE* fp)
{
    if (n < 0)
        __chk_fail();  // glibc checks this first too
    if (size_t(n) > size)
        __chk_fail();
    return fgets(buf, n, fp);
}

GREEN_HOOK char* __fgets_unlocked_chk(char* buf, size_t size, int n, FILE* fp)
{
    if (n < 0)
        __chk_fail();
    if (size_t(n) > size)
        __chk_fail();
    return fgets_unlocked(buf, n, fp);
}

GREEN_HOOK ssize_t getdelim(char** lineptr, size_t* n, int delim, FILE* fp)
{
    stream s = reading(fp);
    if (!s || lineptr == nullptr || n == nullptr)
        return GREEN_REAL(getdelim)(lineptr, n, delim, fp);
    st::call_lock lock(fp);
    return getdelim_body(fp, s, lineptr, n, delim);
}

GREEN_HOOK ssize_t __getdelim(char** lineptr, size_t* n, int delim, FILE* fp)
{
    return getdelim(lineptr, n, delim, fp);
}

GREEN_HOOK ssize_t getline(char** lineptr, size_t* n, FILE* fp)
{
    return getdelim(lineptr, n, '\n', fp);
}

GREEN_HOOK size_t fread(void* ptr, size_t size, size_t count, FILE* fp)
{
    bool handled = false;
    size_t r = green_fread(ptr, size, count, fp, true, handled);
    return handled ? r : GREEN_REAL(fread)(ptr, size, count, fp);
}

GREEN_HOOK size_t fread_unlocked(void* ptr, size_t size, size_t count, FILE* fp)
{
    bool handled = false;
    size_t r = green_fread(ptr, size, count, fp, false, handled);
    return handled ? r : GREEN_REAL(fread_unlocked)(ptr, size, count, fp);
}

GREEN_HOOK size_t __fread_chk(void* ptr, size_t ptrlen, size_t size, size_t count, FILE* fp)
{
    check_fread_size(ptrlen, size, count);
    return fread(ptr, size, count, fp);
}

GREEN_HOOK size_t __fread_unlocked_chk(void* ptr, size_t ptrlen, size_t size, size_t count,
                                       FILE* fp)
{
    check_fread_size(ptrlen, size, count);
    return fread_unlocked(ptr, size, count, fp);
}

GREEN_HOOK int fgetc(FILE* fp)
{
    return green_getc(fp, true, [&] { return GREEN_REAL(fgetc)(fp); });
}

GREEN_HOOK int getc(FILE* fp)
{
    return green_getc(fp, true, [&] { return GREEN_REAL(getc)(fp); });
}

GREEN_HOOK int _IO_getc(FILE* fp)
{
    return green_getc(fp, true, [&] { return GREEN_REAL(_IO_getc)(fp); });
}

GREEN_HOOK int getchar(void)
{
    return green_getc(stdin, true, [] { return GREEN_REAL(getchar)(); });
}

GREEN_HOOK int fgetc_unlocked(FILE* fp)
{
    return green_getc(fp, false, [&] { return GREEN_REAL(fgetc_unlocked)(fp); });
}

GREEN_HOOK int getc_unlocked(FILE* fp)
{
    return green_getc(fp, false, [&] { return GREEN_REAL(getc_unlocked)(fp); });
}

GREEN_HOOK int getchar_unlocked(void)
{
    return green_getc(stdin, false, [] { return GREEN_REAL(getchar_unlocked)(); });
}

// Called by the program's own inline getc_unlocked and by nothing inside glibc (libc calls
// its hidden alias), with the FILE locked by the program if at all.
GREEN_HOOK int __uflow(FILE* fp)
{
    stream s = reading(fp);
    if (!s)
        return GREEN_REAL(__uflow)(fp);
    return st::uflow(fp, s);
}

GREEN_HOOK int __underflow(FILE* fp)
{
    stream s = reading(fp);
    if (!s)
        return GREEN_REAL(__underflow)(fp);
    return st::underflow(fp, s);
}
