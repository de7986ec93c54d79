// Fiber stacks: mmap'd with MAP_NORESERVE so only touched pages cost memory, pooled so that a
// spawn after a join reuses a warm stack (a fresh mmap+munmap costs ~5 µs, a first touch ~2 µs).
//
// A guard page costs a second VMA per stack, and vm.max_map_count (65,530 by default) caps a
// process's VMAs, so guards are given while a budget lasts. Past it, stacks have no guard and
// overflow is caught by a stack-pointer check at each switch, so the number of green threads
// is bounded by memory rather than by VMAs. Such a stack keeps an untouched red zone of its own
// mapping below its usable part (stack.cpp), so that an overflow the check will report has not
// written over the frames of the stack mapped below it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace green {

enum class guard_policy { automatic, always, never };

struct stack {
    void* mapping = nullptr;      // start of the mmap'd region, guard or red zone included
    std::size_t mapping_size = 0;
    void* limit = nullptr;        // lowest usable address
    void* top = nullptr;          // highest address (exclusive); stacks grow down from here
    bool guarded = false;
    bool pooled = false;          // runtime-owned, returned to the pool on release

    std::size_t usable_size() const
    {
        return static_cast<std::size_t>(static_cast<char*>(top) - static_cast<char*>(limit));
    }
    bool contains(const void* p) const
    {
        return p >= mapping && p < top;
    }
    bool in_guard(const void* p) const
    {
        return guarded && p >= mapping && p < limit;
    }
};

struct stack_config {
    std::size_t default_size = 0;   // 0: the size glibc gives a new native thread
    guard_policy guards = guard_policy::automatic;
    std::size_t pool_limit = 1024;  // stacks kept for reuse
};

void configure_stacks(const stack_config& config);
std::size_t default_stack_size();
// The program changed glibc's default thread stack size (pthread_setattr_default_np): the
// default follows, unless a size was configured.
void native_default_changed();

// Returns false with errno ENOMEM/EAGAIN when the memory is not available.
bool allocate_stack(std::size_t size, stack& out);
void release_stack(stack& s);

// A caller-supplied stack (pthread_attr_setstack): used as is, never pooled or unmapped.
stack adopt_stack(void* base, std::size_t size);

std::size_t guarded_stack_count();

}  // namespace green
