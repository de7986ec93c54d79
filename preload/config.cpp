#include "config.hpp"

#include "internal.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unistd.h>

namespace green::preload {

void reject(const char* name, const char* value, const char* accepted)
{
    char line[512];
    int n = std::snprintf(line, sizeof line, "libgreen: %s='%s' is not valid; %s\n", name, value,
                          accepted);
    syscall(SYS_write, 2, line, n > 0 ? std::size_t(std::min(n, int(sizeof line) - 1)) : 0);
    _exit(bad_config_status);
}

namespace {

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

// One entry of GREEN_DNS_SERVERS: IPv4[:PORT], [IPv6][:PORT] or a bare IPv6 address.
bool valid_server(std::string_view entry)
{
    auto valid_port = [](std::string_view p) {
        if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != p.npos)
            return false;
        int port = std::atoi(std::string(p).c_str());
        return port >= 1 && port <= 65535;
    };
    unsigned char addr[16];
    std::string host;
    if (!entry.empty() && entry.front() == '[') {
        std::size_t close = entry.find(']');
        if (close == entry.npos)
            return false;
        host = entry.substr(1, close - 1);
        std::string_view rest = entry.substr(close + 1);
        if (!rest.empty() && (rest.front() != ':' || !valid_port(rest.substr(1))))
            return false;
        return inet_pton(AF_INET6, host.c_str(), addr) == 1;
    }
    if (entry.find(':') != entry.rfind(':'))  // more than one colon: a bare IPv6 address
        return inet_pton(AF_INET6, std::string(entry).c_str(), addr) == 1;
    std::size_t colon = entry.find(':');
    host = entry.substr(0, colon);
    if (colon != entry.npos && !valid_port(entry.substr(colon + 1)))
        return false;
    return inet_pton(AF_INET, host.c_str(), addr) == 1;
}

bool valid_servers(const char* text)
{
    std::string_view all(text);
    std::size_t start = 0;
    for (;;) {
        std::size_t comma = all.find(',', start);
        if (!valid_server(all.substr(start, comma == all.npos ? all.npos : comma - start)))
            return false;
        if (comma == all.npos)
            return true;
        start = comma + 1;
    }
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
    if (const char* v = secure_getenv("GREEN_RESOLVER"); v && *v) {
        static const char* const names[] = {"ares", "thread", "native"};
        static const resolver_mode values[] = {resolver_mode::ares, resolver_mode::thread,
                                               resolver_mode::native};
        if (!parse_choice(v, names, values, c.resolver))
            reject("GREEN_RESOLVER", v, "use ares, thread or native");
    }
    if (const char* v = secure_getenv("GREEN_DNS_SERVERS"); v && *v) {
        if (!valid_servers(v))
            reject("GREEN_DNS_SERVERS", v,
                   "use a comma-separated list of IPv4[:PORT], [IPv6][:PORT] or IPv6 "
                   "(e.g. GREEN_DNS_SERVERS=127.0.0.1:5353,[::1]:53)");
        c.dns_servers = v;
    }
    return c;
}

}  // namespace green::preload
