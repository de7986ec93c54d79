// printf, fprintf, vprintf, vfprintf and their _chk forms (what _FORTIFY_SOURCE makes of them).
//
// Whether a printf flushes depends on what it prints, so a green printf first measures its
// output with vsnprintf (into a small buffer, to see a line-buffered stream's newlines), and
// parks until the fd is writable only when the output will not fit the stream's buffer, holds
// a newline on a line-buffered stream, or goes to an unbuffered one. Then glibc's own printf
// formats and writes, so the bytes and the buffering are glibc's; the price is formatting
// twice on green streams.
#include <features.h>
#undef __USE_EXTERN_INLINES

#include "hook.hpp"
#include "stdio.hpp"

#include <cstdarg>
#include <cstdio>

extern "C" int __printf_chk(int flag, const char* format, ...);
extern "C" int __fprintf_chk(FILE* fp, int flag, const char* format, ...);
extern "C" int __vprintf_chk(int flag, const char* format, va_list ap);
extern "C" int __vfprintf_chk(FILE* fp, int flag, const char* format, va_list ap);
extern "C" int __vsnprintf_chk(char* s, size_t maxlen, int flag, size_t slen,
                               const char* format, va_list ap);

using namespace green;

namespace {

namespace st = hooks::stdio;

constexpr int no_chk = -1;

bool printf_flushes(FILE* fp, int chk_flag, const char* format, va_list ap)
{
    if (fp->_flags & st::flag::unbuffered)
        return true;
    char sample[256];
    va_list copy;
    va_copy(copy, ap);
    int len = chk_flag == no_chk
                  ? vsnprintf(sample, sizeof sample, format, copy)
                  : __vsnprintf_chk(sample, sizeof sample, chk_flag, sizeof sample, format, copy);
    va_end(copy);
    if (len < 0)
        return false;  // glibc's printf fails the same way before it writes anything
    // A longer output is not looked at: on a line-buffered stream it counts as holding a
    // newline.
    const char* data = std::size_t(len) < sizeof sample ? sample : nullptr;
    return st::write_flushes(fp, data, std::size_t(len));
}

template <class Plain>
int green_printf(FILE* fp, int chk_flag, const char* format, va_list ap, Plain&& plain)
{
    if (!hooks::green_caller())
        return plain();
    st::stream s = st::green_stream(fp, false);
    if (!s || fp->_mode > 0)
        return plain();
    st::call_lock lock(fp);
    if (printf_flushes(fp, chk_flag, format, ap) && !st::await_output(fp, s))
        return -1;
    return plain();
}

}  // namespace

GREEN_HOOK int vfprintf(FILE* fp, const char* format, va_list ap)
{
    return green_printf(fp, no_chk, format, ap,
                        [&] { return GREEN_REAL(vfprintf)(fp, format, ap); });
}

GREEN_HOOK int vprintf(const char* format, va_list ap)
{
    return green_printf(stdout, no_chk, format, ap,
                        [&] { return GREEN_REAL(vfprintf)(stdout, format, ap); });
}

GREEN_HOOK int __vfprintf_chk(FILE* fp, int flag, const char* format, va_list ap)
{
    return green_printf(fp, flag, format, ap,
                        [&] { return GREEN_REAL(__vfprintf_chk)(fp, flag, format, ap); });
}

GREEN_HOOK int __vprintf_chk(int flag, const char* format, va_list ap)
{
    return green_printf(stdout, flag, format, ap,
                        [&] { return GREEN_REAL(__vfprintf_chk)(stdout, flag, format, ap); });
}

GREEN_HOOK int fprintf(FILE* fp, const char* format, ...)
{
    va_list ap;
    va_start(ap, format);
    int r = green_printf(fp, no_chk, format, ap,
                         [&] { return GREEN_REAL(vfprintf)(fp, format, ap); });
    va_end(ap);
    return r;
}

GREEN_HOOK int printf(const char* format, ...)
{
    va_list ap;
    va_start(ap, format);
    int r = green_printf(stdout, no_chk, format, ap,
                         [&] { return GREEN_REAL(vfprintf)(stdout, format, ap); });
    va_end(ap);
    return r;
}

GREEN_HOOK int __fprintf_chk(FILE* fp, int flag, const char* format, ...)
{
    va_list ap;
    va_start(ap, format);
    int r = green_printf(fp, flag, format, ap,
                         [&] { return GREEN_REAL(__vfprintf_chk)(fp, flag, format, ap); });
    va_end(ap);
    return r;
}

GREEN_HOOK int __printf_chk(int flag, const char* format, ...)
{
    va_list ap;
    va_start(ap, format);
    int r = green_printf(stdout, flag, format, ap,
                         [&] { return GREEN_REAL(__vfprintf_chk)(stdout, flag, format, ap); });
    va_end(ap);
    return r;
}
