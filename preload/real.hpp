// The real libc functions behind the interposed names. Each is resolved once, on first use, with
// dlsym(RTLD_NEXT) inside the runtime's internal scope (dlsym may call functions libgreen
// interposes, and those must pass straight through while it runs); those a signal handler may
// reach were resolved at start-up already (resolve_eagerly), and their first use takes no lock.
#pragma once

#include <atomic>

namespace green::real {

void* lookup(const char* name);
// Resolves the functions a signal handler may reach; start-up calls it before any handler of
// the program's can run behind the runtime's trampoline.
void resolve_eagerly();
void* lookup_versioned(const char* name, const char* version);

}  // namespace green::real

// GREEN_REAL(read)(fd, buf, n): the libc `read`, typed like the declaration in scope.
#define GREEN_REAL(name)                                                                    \
    ([]() noexcept {                                                                        \
        static std::atomic<void*> slot_{nullptr};                                           \
        void* p_ = slot_.load(std::memory_order_relaxed);                                   \
        if (__builtin_expect(p_ == nullptr, 0)) {                                           \
            p_ = ::green::real::lookup(#name);                                              \
            slot_.store(p_, std::memory_order_relaxed);                                     \
        }                                                                                   \
        return reinterpret_cast<decltype(&::name)>(p_);                                     \
    }())
