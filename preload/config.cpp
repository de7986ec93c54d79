#include "config.hpp"

#include "internal.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace green::preload {
namespace {

[[noreturn]] void reject(const char* name, const char* value, const char* accepted)
{
    char line[512];
    int n = std::snprintf(line, sizeof line, "libgreen: %s='%s' is not valid; %s\n", name, value,
                          accepted);
    syscall(SYS_write, 2, line, n > 0 ? std::size_t(std::min(n, int(sizeof line) - 1)) : 0);
    _exit(bad_config_status);
}

bool parse_size(const char* text, std::size_t& out)
{
    errno = 0;
    char* end = nullptr;
    unsigned long long value = std::strtoull(text, &end, 10);
    if (end == text || errno != 0 || *text == '-')
        return false;
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; ++end; break;
    case 'm': case 'M': shift = 20; ++end; break;
    case 'g': case 'G': shift = 30; ++end; break;
    default: return false;
    }
    if (*end != '\0' || value > (~0ull >> shift))
        return false;
    out = std::size_t(value << shift);
    return true;
}

template <class T, std::size_t N>
bool parse_choice(const char* text, const char* const (&names)[N], const T (&values)[N], T& out)
{
    for (std::size_t i = 0; i < N; ++i)
        if (std::strcmp(text, names[i]) == 0) {
            out = values[i];
            return true;
        }
    return false;
}

}  // namespace

config read_config()
{
    config c;
    if (const char* v = secure_getenv("GREEN_STACK_SIZE"); v && *v) {
        // PTHREAD_STACK_MIN is 16 KiB here; a fiber needs room for the hooks' frames too.
        constexpr std::size_t min_size = 16 * 1024;
        constexpr std::size_t max_size = std::size_t(1) << 32;
        if (!parse_size(v, c.stack_size) || c.stack_size < min_size || c.stack_size > max_size)
            reject("GREEN_STACK_SIZE", v,
                   "use a size in bytes from 16K to 4G, with an optional K, M or G suffix "
                   "(e.g. GREEN_STACK_SIZE=256K)");
    }
    if (const char* v = secure_getenv("GREEN_STACK_GUARD"); v && *v) {
        static const char* const names[] = {"auto", "always", "never"};
        static const guard_policy values[] = {guard_policy::automatic, guard_policy::always,
                                              guard_policy::never};
        if (!parse_choice(v, names, values, c.stack_guard))
            reject("GREEN_STACK_GUARD", v, "use auto, always or never");
    }
    if (const char* v = secure_getenv("GREEN_STATS"); v && *v) {
        static const char* const names[] = {"0", "1"};
        static const bool values[] = {false, true};
        if (!parse_choice(v, names, values, c.stats))
            reject("GREEN_STATS", v, "use 1 to print a summary line on stderr at exit, or 0");
    }
    if (const char* v = secure_getenv("GREEN_LOG"); v && *v) {
        static const char* const names[] = {"error", "warn", "debug"};
        static const log_level values[] = {log_level::error, log_level::warn, log_level::debug};
        if (!parse_choice(v, names, values, c.log))
            reject("GREEN_LOG", v, "use error, warn or debug");
    }
    if (const char* v = secure_getenv("GREEN_THREADS"); v && *v) {
        static const char* const names[] = {"green", "native"};
        static const bool values[] = {false, true};
        if (!parse_choice(v, names, values, c.native_threads))
            reject("GREEN_THREADS", v,
                   "use green (threads become green threads) or native (each thread stays an "
                   "OS thread, with a hub of its own)");
    }
    return c;
}

}  // namespace green::preload
