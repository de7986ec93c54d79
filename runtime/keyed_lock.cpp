#include "keyed_lock.hpp"

#include "internal.hpp"
#include "sync.hpp"

#include <cstdint>
#include <new>

namespace green::keyed_lock {

namespace {

// An entry is in use while some flow holds or waits for its key; then it stays in its bucket,
// idle (key null), for the next key there, so a call that takes and drops a key does not
// allocate. The owner and depth change only under the bucket's guard (owner) or by the owner.
struct entry {
    const void* key = nullptr;
    entry* next = nullptr;
    unsigned users = 0;  // flows holding or waiting
    std::uint64_t owner = 0;
    unsigned depth = 0;
    mutex gate;  // held by the owner; waiters park on it in FIFO order
};

constexpr unsigned bucket_count = 64;
constexpr unsigned idle_per_bucket = 4;

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

// Under the bucket's guard.
entry* find(bucket& b, const void* key)
{
    for (entry* e = b.head; e; e = e->next)
        if (e->key == key)
            return e;
    return nullptr;
}

// Under the bucket's guard: the key's entry, or an idle one given the key, or null.
entry* find_or_reuse(bucket& b, const void* key)
{
    if (entry* e = find(b, key))
        return e;
    if (entry* e = find(b, nullptr)) {
        e->key = key;
        return e;
    }
    return nullptr;
}

void add_fresh(bucket& b, entry*& fresh, const void* key)
{
    fresh->key = key;
    fresh->next = b.head;
    b.head = fresh;
    fresh = nullptr;
}

}  // namespace

void lock(const void* key)
{
    std::uint64_t me = current_flow_id();
    bucket& b = bucket_of(key);
    entry* fresh = nullptr;
    entry* e;
    for (;;) {
        {
            spinlock_guard g(b.guard);
            e = find_or_reuse(b, key);
            if (!e && fresh) {
                e = fresh;
                add_fresh(b, fresh, key);
            }
            if (e) {
                if (e->owner == me) {
                    ++e->depth;
                    break;
                }
                if (e->users == 0 && e->gate.try_lock() == 0) {
                    // Uncontended: taken in one pass.
                    e->users = 1;
                    e->owner = me;
                    e->depth = 1;
                    break;
                }
                ++e->users;
            }
        }
        if (e) {
            // The entry cannot go while this flow counts as a user, so it may park here.
            e->gate.lock();
            spinlock_guard g(b.guard);
            e->owner = me;
            e->depth = 1;
            break;
        }
        fresh = new entry;  // outside the guard: malloc may take locks of its own
    }
    delete fresh;
}

bool try_lock(const void* key)
{
    std::uint64_t me = current_flow_id();
    bucket& b = bucket_of(key);
    entry* fresh = nullptr;
    bool got = false;
    for (;;) {
        {
            spinlock_guard g(b.guard);
            entry* e = find_or_reuse(b, key);
            if (!e && fresh) {
                e = fresh;
                add_fresh(b, fresh, key);
            }
            if (e) {
                if (e->owner == me) {
                    ++e->depth;
                    got = true;
                } else if (e->users == 0 && e->gate.try_lock() == 0) {
                    e->users = 1;
                    e->owner = me;
                    e->depth = 1;
                    got = true;
                }
                break;
            }
        }
        fresh = new entry;
    }
    delete fresh;
    return got;
}

void unlock(const void* key)
{
    std::uint64_t me = current_flow_id();
    bucket& b = bucket_of(key);
    entry* e;
    {
        spinlock_guard g(b.guard);
        e = find(b, key);
        if (!e || e->owner != me)
            return;  // a flow that does not hold the key changes nothing
        if (--e->depth > 0)
            return;
        e->owner = 0;
        if (e->users == 1) {
            // Nobody waits: released in one pass (the entry stays, idle).
            e->gate.unlock();
            e->users = 0;
            e->key = nullptr;
            return;
        }
    }
    e->gate.unlock();  // straight to the longest waiter
    entry* gone = nullptr;
    {
        spinlock_guard g(b.guard);
        if (--e->users == 0) {
            unsigned idle = 0;
            for (entry* i = b.head; i; i = i->next)
                idle += i->key == nullptr;
            if (idle < idle_per_bucket) {
                e->key = nullptr;
            } else {
                for (entry** p = &b.head; *p; p = &(*p)->next) {
                    if (*p == e) {
                        *p = e->next;
                        break;
                    }
                }
                gone = e;
            }
        }
    }
    delete gone;
}

bool owned(const void* key)
{
    std::uint64_t me = current_flow_id();
    bucket& b = bucket_of(key);
    spinlock_guard g(b.guard);
    entry* e = find(b, key);
    return e && e->owner == me;
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
    bucket& b = bucket_of(key);
    spinlock_guard g(b.guard);
    entry* e = find(b, key);
    return e && e->users > 0;
}

}  // namespace green::keyed_lock
