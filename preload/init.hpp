// Start-up of the preloaded library. Hooks may run before it (from another library's
// constructor) and during it (dlsym, libuv); until it is done they pass straight through.
#pragma once

#include "config.hpp"

#include <atomic>

namespace green::preload {

extern std::atomic<int> init_state;  // 0: not started, 1: running, 2: done
constexpr int init_done = 2;

void ensure_init();

// In the child of fork: forgets the parent's hubs and resolver channels (pthread_atfork's child
// handler; _Fork, which runs no handlers, has its hook call it).
void forget_parent_hubs();

// GREEN_THREADS=native: pthread_create makes OS threads. Set once, during start-up.
extern bool native_threads;
// GREEN_RESOLVER, as validated at start.
extern resolver_mode resolver;

inline bool ready()
{
    if (__builtin_expect(init_state.load(std::memory_order_acquire) == init_done, 1))
        return true;
    ensure_init();
    return init_state.load(std::memory_order_acquire) == init_done;
}

}  // namespace green::preload
