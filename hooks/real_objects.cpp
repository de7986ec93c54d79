#include "real_objects.hpp"

#include "internal.hpp"

#include <unordered_set>

namespace green::hooks::real_objects {

std::atomic<std::size_t> count{0};

namespace {

spinlock lock;

std::unordered_set<const void*>& objects()
{
    static auto* set = new std::unordered_set<const void*>();  // never destroyed: used at exit
    return *set;
}

}  // namespace

void add(const void* object)
{
    internal_scope scope;
    spinlock_guard g(lock);
    if (objects().insert(object).second)
        count.fetch_add(1, std::memory_order_relaxed);
}

void remove(const void* object)
{
    if (count.load(std::memory_order_relaxed) == 0)
        return;
    internal_scope scope;
    spinlock_guard g(lock);
    if (objects().erase(object))
        count.fetch_sub(1, std::memory_order_relaxed);
}

bool contains_slow(const void* object)
{
    spinlock_guard g(lock);
    return objects().count(object) != 0;
}

}  // namespace green::hooks::real_objects
