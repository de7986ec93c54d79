// fscanf, scanf, vfscanf, vscanf and their __isoc99_ names (what <stdio.h> maps them to in
// C99 and later modes), and glibc's __vfscanf.
//
// A scanf conversion reads through glibc's internal buffer functions, past every hook, so a
// green scanf parks only before it starts, until the fd is readable: when the buffer is empty,
// or holds only white space that the format's first directive skips (the newline a previous
// fscanf left), where glibc too would read before matching anything. A format that needs more
// input after that (a number split across two writes, a second line) blocks the hub thread for
// the rest, as the README's semantics table says.
// <stdio.h> renames fscanf and the rest to their __isoc99_ names in C++11 (asm labels); this
// file defines both names, so it asks for the plain declarations.
#include <features.h>
#undef __USE_EXTERN_INLINES
#undef __GLIBC_USE_DEPRECATED_SCANF
#define __GLIBC_USE_DEPRECATED_SCANF 1

#include "hook.hpp"
#include "stdio.hpp"

#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <cstring>

extern "C" int __isoc99_fscanf(FILE* fp, const char* format, ...);
extern "C" int __isoc99_scanf(const char* format, ...);
extern "C" int __isoc99_vfscanf(FILE* fp, const char* format, va_list ap);
extern "C" int __isoc99_vscanf(const char* format, va_list ap);
extern "C" int __vfscanf(FILE* fp, const char* format, va_list ap);

using namespace green;

namespace {

namespace st = hooks::stdio;

// Whether the format's first directive skips white space: white space itself, or a
// conversion other than %c, %[, %n and %% (C11 7.21.6.2p8).
bool skips_space(const char* format)
{
    unsigned char c = static_cast<unsigned char>(*format);
    if (std::isspace(c))
        return true;
    if (c != '%')
        return false;
    const char* p = format + 1;
    while (*p == '*' || *p == '\'' || std::isdigit(static_cast<unsigned char>(*p)) || *p == '$')
        ++p;
    while (*p && std::strchr("hljztLqm", *p))
        ++p;
    return *p && !std::strchr("c[n%C", *p);
}

bool only_space(const char* p, const char* end)
{
    for (; p < end; ++p)
        if (!std::isspace(static_cast<unsigned char>(*p)))
            return false;
    return true;
}

// What glibc would read before matching the first directive: the buffer is empty, or holds
// only white space the directive skips.
bool needs_input(FILE* fp, const char* format)
{
    if (fp->_flags & (st::flag::eof_seen | st::flag::currently_putting))
        return false;
    if (!only_space(fp->_IO_read_ptr, fp->_IO_read_end))
        return false;
    if ((fp->_flags & st::flag::in_backup) && !only_space(fp->_IO_save_base, fp->_IO_save_end))
        return false;
    return fp->_IO_read_ptr >= fp->_IO_read_end || skips_space(format);
}

// Runs scan(), the real v-function, with the FILE locked and its input waited for. EOF with
// the error flag set, as a failed read would leave it, when the wait fails.
template <class Scan>
int green_scan(FILE* fp, const char* format, Scan&& scan)
{
    if (!hooks::green_caller())
        return scan();
    st::stream s = st::green_stream(fp, true);
    if (!s || fp->_mode > 0)
        return scan();
    st::call_lock lock(fp);
    if (st::underflow_reads(fp)) {
        if (!st::await_input(fp, s))
            return EOF;
    } else if (needs_input(fp, format) && !st::await_readable(fp, s)) {
        return EOF;
    }
    return scan();
}

}  // namespace

GREEN_HOOK int vfscanf(FILE* fp, const char* format, va_list ap)
{
    return green_scan(fp, format, [&] { return GREEN_REAL(vfscanf)(fp, format, ap); });
}

GREEN_HOOK int __isoc99_vfscanf(FILE* fp, const char* format, va_list ap)
{
    return green_scan(fp, format, [&] { return GREEN_REAL(__isoc99_vfscanf)(fp, format, ap); });
}

GREEN_HOOK int __vfscanf(FILE* fp, const char* format, va_list ap)
{
    return green_scan(fp, format, [&] { return GREEN_REAL(__vfscanf)(fp, format, ap); });
}

GREEN_HOOK int vscanf(const char* format, va_list ap)
{
    return green_scan(stdin, format, [&] { return GREEN_REAL(vfscanf)(stdin, format, ap); });
}

GREEN_HOOK int __isoc99_vscanf(const char* format, va_list ap)
{
    return green_scan(stdin, format, [&] { return GREEN_REAL(__isoc99_vfscanf)(stdin, format, ap); });
}

GREEN_HOOK int fscanf(FILE* fp, const char* format, ...)
{
    va_list ap;
    va_start(ap, format);
    int r = green_scan(fp, format, [&] { return GREEN_REAL(vfscanf)(fp, format, ap); });
    va_end(ap);
    return r;
}

GREEN_HOOK int __isoc99_fscanf(FILE* fp, const char* format, ...)
{
    va_list ap;
    va_start(ap, format);
    int r = green_scan(fp, format, [&] { return GREEN_REAL(__isoc99_vfscanf)(fp, format, ap); });
    va_end(ap);
    return r;
}

GREEN_HOOK int scanf(const char* format, ...)
{
    va_list ap;
    va_start(ap, format);
    int r = green_scan(stdin, format, [&] { return GREEN_REAL(vfscanf)(stdin, format, ap); });
    va_end(ap);
    return r;
}

GREEN_HOOK int __isoc99_scanf(const char* format, ...)
{
    va_list ap;
    va_start(ap, format);
    int r = green_scan(stdin, format, [&] { return GREEN_REAL(__isoc99_vfscanf)(stdin, format, ap); });
    va_end(ap);
    return r;
}
