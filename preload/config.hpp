// GREEN_* settings, read once at start with secure_getenv (ignored under secure execution) and
// validated: a bad value stops the program with one line that names the variable and what it
// accepts, never a silent default.
#pragma once

#include "log.hpp"
#include "stack.hpp"

#include <cstddef>

namespace green::preload {

struct config {
    std::size_t stack_size = 0;          // GREEN_STACK_SIZE; 0: the native default
    guard_policy stack_guard = guard_policy::automatic;  // GREEN_STACK_GUARD
    bool stats = false;                  // GREEN_STATS
    log_level log = log_level::error;    // GREEN_LOG
    bool native_threads = false;         // GREEN_THREADS=native: pthread_create stays native
};

// Exit status when a GREEN_* variable is invalid (as env(1) uses 125 for its own errors).
constexpr int bad_config_status = 125;

config read_config();

}  // namespace green::preload
