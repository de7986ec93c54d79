// msgsnd, msgrcv, semop, semtimedop.
//
// System V queues and semaphores have no fd to wait on. Each call is first tried with
// IPC_NOWAIT added, which never blocks and, when the call can proceed at once, does exactly what
// the call would have done; when it would have to wait (EAGAIN, or ENOMSG for msgrcv), the call
// as the program made it runs on the offload pool while only the calling green thread waits.
// A call the program made with IPC_NOWAIT passes straight through.
#include "zerocopy.hpp"

#include "hook.hpp"

#include <cstdlib>
#include <cstring>
#include <sys/msg.h>
#include <sys/sem.h>

using namespace green;

namespace {

// A copy of semaphore operations with IPC_NOWAIT on each (the program's array is its own).
class nowait_ops {
public:
    nowait_ops(const sembuf* ops, size_t n)
        : ops_(n <= inline_count ? inline_ : static_cast<sembuf*>(std::malloc(n * sizeof(sembuf))))
    {
        if (!ops_)
            return;
        std::memcpy(ops_, ops, n * sizeof(sembuf));
        for (size_t i = 0; i < n; ++i)
            ops_[i].sem_flg = short(ops_[i].sem_flg | IPC_NOWAIT);
    }
    ~nowait_ops()
    {
        if (ops_ != inline_)
            std::free(ops_);
    }
    nowait_ops(const nowait_ops&) = delete;
    nowait_ops& operator=(const nowait_ops&) = delete;
    sembuf* data() { return ops_; }

private:
    static constexpr size_t inline_count = 16;
    sembuf inline_[inline_count];
    sembuf* ops_;
};

bool all_nowait(const sembuf* ops, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (!(ops[i].sem_flg & IPC_NOWAIT))
            return false;
    return true;
}

// The kernel takes at most SEMOPM operations (500 by default, E2BIG beyond); larger arrays
// than this are not copied for a try but go to the pool as they are.
constexpr size_t most_copied_ops = 4096;

// attempt(ops) is the program's call on `ops`.
template <class Attempt>
int green_semop(sembuf* ops, size_t n, Attempt&& attempt)
{
    if (!ops || n == 0 || all_nowait(ops, n))
        return attempt(ops);  // EFAULT, EINVAL or a call that never waits: straight through
    int entry_errno = errno;
    if (n <= most_copied_ops) {
        nowait_ops tried(ops, n);
        if (tried.data()) {
            int r = attempt(tried.data());
            if (r == 0) {
                errno = entry_errno;
                return 0;
            }
            if (errno != EAGAIN)
                return r;
            errno = entry_errno;
        }
    }
    return int(hooks::offloaded([&] { return long(attempt(ops)); }));
}

}  // namespace

GREEN_HOOK int msgsnd(int msqid, const void* msgp, size_t msgsz, int msgflg)
{
    if (!hooks::green_caller() || (msgflg & IPC_NOWAIT))
        return GREEN_REAL(msgsnd)(msqid, msgp, msgsz, msgflg);
    int entry_errno = errno;
    int r = GREEN_REAL(msgsnd)(msqid, msgp, msgsz, msgflg | IPC_NOWAIT);
    if (r == 0)
        errno = entry_errno;
    if (r == 0 || errno != EAGAIN)
        return r;
    errno = entry_errno;
    return int(hooks::offloaded([&] { return long(GREEN_REAL(msgsnd)(msqid, msgp, msgsz, msgflg)); }));
}

GREEN_HOOK ssize_t msgrcv(int msqid, void* msgp, size_t msgsz, long msgtyp, int msgflg)
{
    if (!hooks::green_caller() || (msgflg & IPC_NOWAIT))
        return GREEN_REAL(msgrcv)(msqid, msgp, msgsz, msgtyp, msgflg);
    int entry_errno = errno;
    ssize_t r = GREEN_REAL(msgrcv)(msqid, msgp, msgsz, msgtyp, msgflg | IPC_NOWAIT);
    if (r >= 0)
        errno = entry_errno;
    if (r >= 0 || errno != ENOMSG)
        return r;
    errno = entry_errno;
    return ssize_t(hooks::offloaded(
        [&] { return long(GREEN_REAL(msgrcv)(msqid, msgp, msgsz, msgtyp, msgflg)); }));
}

GREEN_HOOK int semop(int semid, struct sembuf* sops, size_t nsops)
{
    if (!hooks::green_caller())
        return GREEN_REAL(semop)(semid, sops, nsops);
    return green_semop(sops, nsops,
                       [&](sembuf* ops) { return GREEN_REAL(semop)(semid, ops, nsops); });
}

GREEN_HOOK int semtimedop(int semid, struct sembuf* sops, size_t nsops,
                          const struct timespec* timeout)
{
    if (!hooks::green_caller())
        return GREEN_REAL(semtimedop)(semid, sops, nsops, timeout);
    // The try passes the timeout too, so that an invalid one fails with EINVAL at once.
    return green_semop(sops, nsops, [&](sembuf* ops) {
        return GREEN_REAL(semtimedop)(semid, ops, nsops, timeout);
    });
}
