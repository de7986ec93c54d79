#include "keyed_lock.hpp"

#include "internal.hpp"
#include "sync.hpp"

#include <cstdint>
#include <new>

namespace green::keyed_lock {

namespace {

struct entry {
    const void* key = nullptr;
    entry* next = nullptr;
    unsigned users = 0;  // flows holding or waiting; the entry goes when the last one leaves
    mutex lock{mutex::kind::recursive};
};

constexpr unsigned bucket_count = 64;

struct bucket {
    spinlock guard;
    entry* head = nullptr;
};

bucket buckets[bucket_count];

bucket& bucket_of(const void* key)
{
    auto k = reinterpret_cast<std::uintptr_t>(key);
    return buckets[(k >> 4 ^ k >> 10) % bucket_count];
}

// Finds or makes the key's entry and counts the caller as one of its users.
entry* join(const void* key)
{
    bucket& b = bucket_of(key);
    entry* fresh = nullptr;
    for (;;) {
        {
            spinlock_guard g(b.guard);
            for (entry* e = b.head; e; e = e->next) {
                if (e->key == key) {
                    ++e->users;
                    delete fresh;
                    return e;
                }
            }
            if (fresh) {
                fresh->key = key;
                fresh->users = 1;
                fresh->next = b.head;
                b.head = fresh;
                return fresh;
            }
        }
        // Allocated outside the spinlock: malloc may take locks of its own.
        fresh = new entry;
    }
}

void leave(const void* key)
{
    bucket& b = bucket_of(key);
    entry* gone = nullptr;
    {
        spinlock_guard g(b.guard);
        for (entry** p = &b.head; *p; p = &(*p)->next) {
            if ((*p)->key == key) {
                if (--(*p)->users == 0) {
                    gone = *p;
                    *p = gone->next;
                }
                break;
            }
        }
    }
    delete gone;
}

entry* find(const void* key)
{
    bucket& b = bucket_of(key);
    spinlock_guard g(b.guard);
    for (entry* e = b.head; e; e = e->next)
        if (e->key == key)
            return e;
    return nullptr;
}

}  // namespace

void lock(const void* key)
{
    // The entry stays alive while the caller counts as a user, so it may park on its mutex
    // outside the bucket's spinlock.
    join(key)->lock.lock(current_flow_id());
}

bool try_lock(const void* key)
{
    if (join(key)->lock.try_lock(current_flow_id()) == 0)
        return true;
    leave(key);
    return false;
}

void unlock(const void* key)
{
    entry* e = find(key);
    if (!e)
        return;
    if (e->lock.unlock(current_flow_id()) == 0)
        leave(key);  // a flow that does not hold the key changes nothing
}

void forget_after_fork()
{
    for (bucket& b : buckets) {
        new (&b.guard) spinlock;
        b.head = nullptr;
    }
}

bool busy(const void* key)
{
    return find(key) != nullptr;
}

}  // namespace green::keyed_lock
