// Work that cannot be made to wait on the hub (glibc's own resolver with nsswitch sources other
// than files and dns, GREEN_RESOLVER=thread) runs on a small pool of native worker threads
// while the fiber that asked for it parks.
//
// The workers are the runtime's own: they are created inside internal_scope and mark themselves
// native_only, so every call they make goes straight to libc. They are made on demand, up to a
// fixed number, and live until the process exits.
#pragma once

namespace green::offload {

// The most workers the pool runs at once; further jobs wait in a queue.
constexpr int max_workers = 8;

// Runs job(arg) on a worker and parks the running fiber until it has returned. From a flow that
// may not park (green::may_park() false), runs job(arg) right here instead.
void run(void (*job)(void*), void* arg);

// How many workers exist now (for tests).
int workers();

}  // namespace green::offload
