#include "stack.hpp"

#include "internal.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace green {
namespace {

constexpr std::size_t page_size = 4096;

// Below the usable part of a stack without a guard page: memory of its own mapping that is
// never touched (MAP_NORESERVE: no RAM, and the same protection as the stack, so the kernel
// merges it with its neighbours into one VMA: no VMA either). An overflow of up to this much
// lands there instead of in the neighbouring stack's live frames, and the stack-pointer check
// at the next switch reports it. A single frame larger than this can still jump over it.
constexpr std::size_t red_zone_size = 64 * 1024;

struct stack_pool {
    spinlock lock;
    stack_config config;
    std::size_t resolved_default = 0;
    std::size_t guard_budget = 0;
    std::atomic<std::size_t> guarded{0};
    std::vector<stack> free_stacks;  // all of size resolved_default
};

stack_pool& pool()
{
    static stack_pool p;
    return p;
}

std::size_t round_to_pages(std::size_t n)
{
    return (n + page_size - 1) & ~(page_size - 1);
}

std::size_t read_max_map_count()
{
    std::size_t value = 65530;
    if (FILE* f = std::fopen("/proc/sys/vm/max_map_count", "re")) {
        unsigned long v = 0;
        if (std::fscanf(f, "%lu", &v) == 1 && v > 0)
            value = v;
        std::fclose(f);
    }
    return value;
}

std::size_t native_default_stack_size()
{
    // glibc derives its default from RLIMIT_STACK at start-up; asking it keeps the two equal.
    pthread_attr_t attr;
    std::size_t size = 8u << 20;
    if (pthread_getattr_default_np(&attr) == 0) {
        pthread_attr_getstacksize(&attr, &size);
        pthread_attr_destroy(&attr);
    }
    return size;
}

bool want_guard(stack_pool& p)
{
    switch (p.config.guards) {
    case guard_policy::always: return true;
    case guard_policy::never: return false;
    case guard_policy::automatic: break;
    }
    return p.guarded.load(std::memory_order_relaxed) < p.guard_budget;
}

}  // namespace

void configure_stacks(const stack_config& config)
{
    auto& p = pool();
    std::vector<stack> stale;
    {
        spinlock_guard g(p.lock);
        p.config = config;
        p.resolved_default = round_to_pages(config.default_size ? config.default_size
                                                                : native_default_stack_size());
        // Pooled stacks have the old default size and, maybe, the old guard policy.
        stale.swap(p.free_stacks);
    }
    for (stack& s : stale) {
        if (s.guarded)
            p.guarded.fetch_sub(1, std::memory_order_relaxed);
        munmap(s.mapping, s.mapping_size);
    }
    spinlock_guard g(p.lock);
    // Each guarded stack costs two VMAs; leave half of the map budget to the program.
    p.guard_budget = read_max_map_count() / 4;
}

void native_default_changed()
{
    auto& p = pool();
    stack_config config;
    {
        spinlock_guard g(p.lock);
        config = p.config;
    }
    if (config.default_size == 0)
        configure_stacks(config);
}

std::size_t default_stack_size()
{
    auto& p = pool();
    if (p.resolved_default == 0)
        configure_stacks(stack_config{});
    return p.resolved_default;
}

bool allocate_stack(std::size_t size, stack& out)
{
    auto& p = pool();
    std::size_t usable = round_to_pages(size ? size : default_stack_size());
    if (usable == p.resolved_default) {
        spinlock_guard g(p.lock);
        if (!p.free_stacks.empty()) {
            out = p.free_stacks.back();
            p.free_stacks.pop_back();
            return true;
        }
    }

    bool guard = want_guard(p);
    std::size_t mapping_size = usable + (guard ? page_size : red_zone_size);
    void* mapping = mmap(nullptr, mapping_size, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mapping == MAP_FAILED) {
        errno = EAGAIN;
        return false;
    }
    if (guard && mprotect(mapping, page_size, PROT_NONE) != 0) {
        // Out of VMAs: keep the stack, unguarded (its red zone one page), rather than fail
        // the spawn.
        guard = false;
    }
    if (guard)
        p.guarded.fetch_add(1, std::memory_order_relaxed);

    out.mapping = mapping;
    out.mapping_size = mapping_size;
    out.limit = static_cast<char*>(mapping) + (mapping_size - usable);
    out.top = static_cast<char*>(mapping) + mapping_size;
    out.guarded = guard;
    out.pooled = true;
    return true;
}

void release_stack(stack& s)
{
    if (!s.pooled) {
        s = stack{};
        return;
    }
    auto& p = pool();
    if (s.usable_size() == p.resolved_default) {
        spinlock_guard g(p.lock);
        if (p.free_stacks.size() < p.config.pool_limit) {
            p.free_stacks.push_back(s);
            s = stack{};
            return;
        }
    }
    if (s.guarded)
        p.guarded.fetch_sub(1, std::memory_order_relaxed);
    munmap(s.mapping, s.mapping_size);
    s = stack{};
}

stack adopt_stack(void* base, std::size_t size)
{
    stack s;
    s.mapping = base;
    s.mapping_size = size;
    s.limit = base;
    s.top = static_cast<char*>(base) + size;
    s.guarded = false;
    s.pooled = false;
    return s;
}

std::size_t guarded_stack_count()
{
    return pool().guarded.load(std::memory_order_relaxed);
}

}  // namespace green
