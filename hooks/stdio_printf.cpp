// printf, fprintf, vprintf, vfprintf and their _chk forms (what _FORTIFY_SOURCE makes of them).
//
// Whether a printf flushes depends on what it prints, so a green printf first formats its
// output with vsnprintf into a small buffer. If the output will not fit the stream's buffer,
// holds a newline on a line-buffered stream, or goes to an unbuffered one, it parks until the fd
// is writable and lets glibc's own printf format and write, so the writes are glibc's; if it
// will not flush, the formatted bytes are appended with fwrite, which is all printf would do.
#include <features.h>
#undef __USE_EXTERN_INLINES

#include "hook.hpp"
#include "stdio.hpp"

#include <cstdarg>
#include <cstddef>
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

template <class Plain>
int green_printf(FILE* fp, int chk_flag, const char* format, va_list ap, Plain&& plain)
{
    if (!hooks::green_caller())
        return plain();
    st::stream s = st::green_stream(fp, false);
    if (!s || fp->_mode > 0)
        return plain();
    st::call_lock lock(fp);
    if (fp->_flags & st::flag::unbuffered)
        return st::await_output(fp, s) ? plain() : -1;
    char sample[1024];
    va_list copy;
    va_copy(copy, ap);
    int len = chk_flag == no_chk
                  ? vsnprintf(sample, sizeof sample, format, copy)
                  : __vsnprintf_chk(sample, sizeof sample, chk_flag, sizeof sample, format, copy);
    va_end(copy);
    if (len < 0)
        return plain();  // glibc's printf fails the same way before it writes anything
    // A longer output is not looked at: on a line-buffered stream it counts as holding a
    // newline.
    bool known = std::size_t(len) < sizeof sample;
    if (st::write_flushes(fp, known ? sample : nullptr, std::size_t(len)))
        return st::await_output(fp, s) ? plain() : -1;
    // No flush: printf would only append these bytes to the buffer, which fwrite does
    // without formatting them again.
    if (known && GREEN_REAL(fwrite_unlocked)(sample, 1, std::size_t(len), fp) == std::size_t(len))
        return len;
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
