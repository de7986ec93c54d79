#include "keyed_locks.hpp"

#include "sync.hpp"

#include <cerrno>
#include <new>
#include <unordered_map>

namespace green::keyed_locks {

namespace {

// An entry lives while someone holds or waits for its lock (`users`), so that a program that
// opens and closes streams by the million keeps the table small.
struct entry {
    mutex m{mutex::kind::recursive};
    unsigned users = 0;
};

spinlock table_lock;
std::unordered_map<const void*, entry*>* table;

// Counts the caller as a user of the key's entry (made if `create`). The table's allocations
// are the runtime's own; the lock itself is taken outside that scope, where it may park.
entry* use(const void* key, bool create)
{
    internal_scope scope;
    spinlock_guard g(table_lock);
    if (!table)
        table = new std::unordered_map<const void*, entry*>();
    auto it = table->find(key);
    if (it == table->end()) {
        if (!create)
            return nullptr;
        it = table->emplace(key, new entry()).first;
    }
    ++it->second->users;
    return it->second;
}

void done_with(const void* key, entry* e)
{
    internal_scope scope;
    spinlock_guard g(table_lock);
    if (--e->users == 0 && !e->m.locked()) {
        table->erase(key);
        delete e;
    }
}

}  // namespace

// Each hold counts as a user until its unlock, so an entry lives while its lock is held.
void lock(const void* key)
{
    entry* e = use(key, true);
    e->m.lock();
}

int try_lock(const void* key)
{
    entry* e = use(key, true);
    if (e->m.try_lock() == 0)
        return 0;
    done_with(key, e);
    return EBUSY;
}

void unlock(const void* key)
{
    entry* e;
    {
        internal_scope scope;
        spinlock_guard g(table_lock);
        if (!table)
            return;
        auto it = table->find(key);
        if (it == table->end())
            return;
        e = it->second;
    }
    if (e->m.unlock() == 0)  // EPERM: not the caller's
        done_with(key, e);
}

std::size_t live()
{
    spinlock_guard g(table_lock);
    return table ? table->size() : 0;
}

}  // namespace green::keyed_locks
