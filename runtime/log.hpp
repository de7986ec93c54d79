// Diagnostics go to stderr only, only when asked for (GREEN_LOG) or when the runtime must stop.
// They are written with one write(2) each, so lines from several threads do not interleave.
#pragma once

namespace green {

enum class log_level { error = 0, warn = 1, debug = 2 };

void set_log_level(log_level level);
bool log_enabled(log_level level);

void log_message(log_level level, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Prints one line and aborts: for states the runtime cannot continue from.
[[noreturn]] void fatal(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace green

#define GREEN_LOG(level, ...)                                                      \
    do {                                                                           \
        if (::green::log_enabled(::green::log_level::level))                       \
            ::green::log_message(::green::log_level::level, __VA_ARGS__);          \
    } while (0)
