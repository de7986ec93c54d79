// Locks that belong to an address rather than to an object of the runtime's: a hook that must
// serialise green threads on something only the program owns (a stdio FILE) locks its address
// for the length of one call. An entry exists only while some flow holds or waits for the key,
// so the table stays as small as the number of calls in flight.
//
// The lock is recursive per flow (a fiber, or an OS thread's own flow: current_flow_id()), as
// glibc's FILE lock is per thread: the flow that holds a key may take it again. A fiber that
// waits for a key another flow holds parks; a native thread sleeps (sync.hpp's mutex).
#pragma once

namespace green::keyed_lock {

void lock(const void* key);
bool try_lock(const void* key);  // false: another flow holds it
void unlock(const void* key);  // by a flow that does not hold the key: nothing happens
bool owned(const void* key);   // whether the calling flow holds it

// In the child of fork(): only the forking thread lives on, so keys held or waited for by the
// others would stay taken for ever. Every entry is dropped (their memory is left behind: a
// lock may have been half-way through an update at the fork).
void forget_after_fork();

// Whether some flow holds or waits for `key` (for tests).
bool busy(const void* key);

class guard {
public:
    explicit guard(const void* key) : key_(key) { lock(key_); }
    ~guard() { unlock(key_); }
    guard(const guard&) = delete;
    guard& operator=(const guard&) = delete;

private:
    const void* key_;
};

}  // namespace green::keyed_lock
