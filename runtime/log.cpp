#include "log.hpp"

#include "internal.hpp"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace green {
namespace {

std::atomic<int> current_level{int(log_level::error)};

void write_line(const char* format, va_list args)
{
    internal_scope scope;
    int saved_errno = errno;
    char line[512];
    int n = std::snprintf(line, sizeof line, "libgreen: ");
    int m = std::vsnprintf(line + n, sizeof line - n - 1, format, args);
    std::size_t len = std::size_t(n) + (m < 0 ? 0 : std::min<std::size_t>(m, sizeof line - n - 2));
    line[len++] = '\n';
    ssize_t ignored = ::write(STDERR_FILENO, line, len);
    (void)ignored;
    errno = saved_errno;
}

}  // namespace

void set_log_level(log_level level)
{
    current_level.store(int(level), std::memory_order_relaxed);
}

bool log_enabled(log_level level)
{
    return int(level) <= current_level.load(std::memory_order_relaxed);
}

void log_message(log_level, const char* format, ...)
{
    va_list args;
    va_start(args, format);
    write_line(format, args);
    va_end(args);
}

void fatal(const char* format, ...)
{
    va_list args;
    va_start(args, format);
    write_line(format, args);
    va_end(args);
    std::abort();
}

}  // namespace green
