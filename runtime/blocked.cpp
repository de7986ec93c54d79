#include "blocked.hpp"

#include <atomic>
#include <cstring>

namespace green::blocked {
namespace {

// A name is claimed once with a compare-and-swap and never released: blocking calls are few,
// and their names are string literals that live as long as the library.
constexpr std::size_t capacity = 64;

struct slot {
    std::atomic<const char*> call{nullptr};
    std::atomic<std::uint64_t> count{0};
};

slot slots[capacity + 1];  // the last one counts "other"
const char other_name[] = "other";

slot& find(const char* call)
{
    for (std::size_t i = 0; i < capacity; ++i) {
        const char* seen = slots[i].call.load(std::memory_order_acquire);
        if (!seen) {
            if (slots[i].call.compare_exchange_strong(seen, call, std::memory_order_acq_rel))
                return slots[i];
            // Another thread claimed this slot first: `seen` is its name now.
        }
        if (seen == call || std::strcmp(seen, call) == 0)
            return slots[i];
    }
    return slots[capacity];
}

}  // namespace

void note(const char* call)
{
    find(call).count.fetch_add(1, std::memory_order_relaxed);
}

std::size_t snapshot(entry* out, std::size_t max)
{
    std::size_t n = 0;
    for (std::size_t i = 0; i <= capacity; ++i) {
        std::uint64_t count = slots[i].count.load(std::memory_order_relaxed);
        const char* call = i == capacity ? other_name : slots[i].call.load(std::memory_order_acquire);
        if (!call || count == 0)
            continue;
        if (n < max)
            out[n] = entry{call, count};
        ++n;
    }
    return n;
}

std::uint64_t total()
{
    std::uint64_t sum = 0;
    for (slot& s : slots)
        sum += s.count.load(std::memory_order_relaxed);
    return sum;
}

void reset()
{
    for (slot& s : slots) {
        s.count.store(0, std::memory_order_relaxed);
        s.call.store(nullptr, std::memory_order_release);
    }
}

}  // namespace green::blocked
