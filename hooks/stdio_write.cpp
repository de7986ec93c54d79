// The stdio byte writers: fwrite, fputs, puts, fputc, putc, putchar, fflush, their _unlocked
// forms, and __overflow, which the inline putc_unlocked of <bits/stdio.h> calls when the
// buffer is full.
//
// glibc writes the fd only when a call flushes: the data does not fit in the buffer, a
// line-buffered stream gets a newline, the stream is unbuffered, or fflush. Before such a call
// a green writer parks until the fd is writable, then lets glibc do the whole call, so the
// buffer and the bytes written are glibc's. Writable means room for one buffer's flush on a
// pipe (a page) and a third of the send buffer on a socket: a larger write (an fwrite of more
// than the free space, bytes the buffer cannot hold) still blocks the hub thread for the rest
// (README, semantics).
#include <features.h>
#undef __USE_EXTERN_INLINES

#include "hook.hpp"
#include "stdio.hpp"

#include <cstdio>
#include <cstring>

extern "C" int _IO_putc(int c, FILE* fp);

using namespace green;

namespace {

namespace st = hooks::stdio;

// Runs plain(), the real call, once the fd can take what the call will write; `failed` (the
// call's error value) when that wait fails, with errno and the stream's error flag set as a
// failed write leaves them.
template <class Flushes, class Plain, class R>
R green_put(FILE* fp, bool locked, Flushes&& flushes, Plain&& plain, R failed)
{
    if (!hooks::green_caller())
        return plain();
    st::stream s = st::green_stream(fp, false);
    if (!s || fp->_mode > 0)
        return plain();
    if (!locked) {
        if (flushes() && !st::await_output(fp, s))
            return failed;
        return plain();
    }
    st::call_lock lock(fp);
    if (flushes() && !st::await_output(fp, s))
        return failed;
    return plain();
}


}  // namespace

GREEN_HOOK size_t fwrite(const void* ptr, size_t size, size_t count, FILE* fp)
{
    return green_put(
        fp, true,
        [&] { return st::write_flushes(fp, static_cast<const char*>(ptr), size * count); },
        [&] { return GREEN_REAL(fwrite)(ptr, size, count, fp); }, size_t(0));
}

GREEN_HOOK size_t fwrite_unlocked(const void* ptr, size_t size, size_t count, FILE* fp)
{
    return green_put(
        fp, false,
        [&] { return st::write_flushes(fp, static_cast<const char*>(ptr), size * count); },
        [&] { return GREEN_REAL(fwrite_unlocked)(ptr, size, count, fp); }, size_t(0));
}

GREEN_HOOK int fputs(const char* s, FILE* fp)
{
    return green_put(
        fp, true, [&] { return st::write_flushes(fp, s, std::strlen(s)); },
        [&] { return GREEN_REAL(fputs)(s, fp); }, EOF);
}

GREEN_HOOK int fputs_unlocked(const char* s, FILE* fp)
{
    return green_put(
        fp, false, [&] { return st::write_flushes(fp, s, std::strlen(s)); },
        [&] { return GREEN_REAL(fputs_unlocked)(s, fp); }, EOF);
}

GREEN_HOOK int puts(const char* s)
{
    // The string and a newline.
    return green_put(
        stdout, true, [&] { return st::write_flushes(stdout, nullptr, std::strlen(s) + 1); },
        [&] { return GREEN_REAL(puts)(s); }, EOF);
}

namespace {

template <class Plain>
int green_putc(int c, FILE* fp, bool locked, Plain&& plain)
{
    return green_put(
        fp, locked, [&] { return st::putc_flushes(fp, char(c)); }, plain, EOF);
}

}  // namespace

GREEN_HOOK int fputc(int c, FILE* fp)
{
    return green_putc(c, fp, true, [&] { return GREEN_REAL(fputc)(c, fp); });
}

GREEN_HOOK int putc(int c, FILE* fp)
{
    return green_putc(c, fp, true, [&] { return GREEN_REAL(putc)(c, fp); });
}

GREEN_HOOK int _IO_putc(int c, FILE* fp)
{
    return green_putc(c, fp, true, [&] { return GREEN_REAL(_IO_putc)(c, fp); });
}

GREEN_HOOK int putchar(int c)
{
    return green_putc(c, stdout, true, [&] { return GREEN_REAL(putchar)(c); });
}

GREEN_HOOK int fputc_unlocked(int c, FILE* fp)
{
    return green_putc(c, fp, false, [&] { return GREEN_REAL(fputc_unlocked)(c, fp); });
}

GREEN_HOOK int putc_unlocked(int c, FILE* fp)
{
    return green_putc(c, fp, false, [&] { return GREEN_REAL(putc_unlocked)(c, fp); });
}

GREEN_HOOK int putchar_unlocked(int c)
{
    return green_putc(c, stdout, false, [&] { return GREEN_REAL(putchar_unlocked)(c); });
}

// From the program's inline putc_unlocked (nothing inside glibc calls this name): `c` is the
// byte that did not fit, or EOF to flush.
GREEN_HOOK int __overflow(FILE* fp, int c)
{
    return green_put(
        fp, false,
        [&] { return c == EOF ? st::pending_output(fp) : st::putc_flushes(fp, char(c)); },
        [&] { return GREEN_REAL(__overflow)(fp, c); }, EOF);
}

// fflush(NULL) flushes every stream glibc knows, past the hooks: it goes straight through.
GREEN_HOOK int fflush(FILE* fp)
{
    if (!fp)
        return GREEN_REAL(fflush)(fp);
    return green_put(
        fp, true, [&] { return st::pending_output(fp); }, [&] { return GREEN_REAL(fflush)(fp); },
        EOF);
}

GREEN_HOOK int fflush_unlocked(FILE* fp)
{
    if (!fp)
        return GREEN_REAL(fflush_unlocked)(fp);
    return green_put(
        fp, false, [&] { return st::pending_output(fp); },
        [&] { return GREEN_REAL(fflush_unlocked)(fp); }, EOF);
}
