// The calls that had to block a hub thread, by name: what GREEN_STATS prints at exit so that a
// user sees what in their program is not green.
//
// A call is counted where the runtime decides to make it natively although a green thread made
// it (an fd the poller refuses, a connect to a full AF_UNIX listen queue, a wait for stopped
// children): every green thread of that hub waits with it. Calls the library never sees (stdio's
// internal reads, raw system calls) cannot be counted.
#pragma once

#include <cstddef>
#include <cstdint>

namespace green::blocked {

// Counts one call of `call`, a string literal naming it (compared by address, then by text).
// Lock-free and safe from any thread; names past the table's capacity are counted under "other".
void note(const char* call);

struct entry {
    const char* call;
    std::uint64_t count;
};

// Copies up to `capacity` names with their counts, in first-seen order; returns how many there
// are in all. Counts read while other threads note calls may be a little behind.
std::size_t snapshot(entry* out, std::size_t capacity);

// The sum of every count.
std::uint64_t total();

// For tests: forgets every count.
void reset();

}  // namespace green::blocked
