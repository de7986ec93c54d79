// GREEN_* settings, read once at start with secure_getenv (ignored under secure execution) and
// validated: a bad value stops the program with one line that names the variable and what it
// accepts, never a silent default.
#pragma once

#include "log.hpp"
#include "stack.hpp"

#include <cstddef>

namespace green::preload {

// GREEN_RESOLVER: how getaddrinfo and friends wait.
enum class resolver_mode {
    ares,    // c-ares on the hub (DNS); glibc for /etc/hosts and numeric names
    thread,  // glibc's resolver on the offload pool
    native,  // glibc's resolver in place (blocks the hub thread)
};

struct config {
    std::size_t stack_size = 0;          // GREEN_STACK_SIZE; 0: the native default
    guard_policy stack_guard = guard_policy::automatic;  // GREEN_STACK_GUARD
    bool stats = false;                  // GREEN_STATS
    log_level log = log_level::error;    // GREEN_LOG
    bool native_threads = false;         // GREEN_THREADS=native: pthread_create stays native
    resolver_mode resolver = resolver_mode::ares;  // GREEN_RESOLVER
    const char* dns_servers = nullptr;   // GREEN_DNS_SERVERS, validated; null: resolv.conf's
};

// Exit status when a GREEN_* variable is invalid (as env(1) uses 125 for its own errors).
constexpr int bad_config_status = 125;

config read_config();

// Stops the program with one line naming the variable and what it accepts, exit status 125.
[[noreturn]] void reject(const char* name, const char* value, const char* accepted);

}  // namespace green::preload
