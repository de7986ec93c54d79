#include "blocking_io.hpp"

#include "blocked.hpp"
#include "cancel.hpp"
#include "hook.hpp"
#include "log.hpp"

#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>

namespace green::hooks {

wait_outcome io_wait::wait()
{
    std::uint64_t deadline = no_deadline;
    if (timeout_) {
        if (!deadline_)
            deadline_ = deadline_after(now_ns(), timeout_);
        deadline = deadline_;
    }
    // signal(7): socket calls with a timeout fail with EINTR even under SA_RESTART.
    interrupt_mode mode = timeout_ ? interrupt_mode::always : interrupt_mode::unless_restart;
    // Every blocking transfer, accept and connect is a cancellation point.
    cancel_point point;
    switch (fd_table::wait(fd_, info_.generation, events_, deadline, mode)) {
    case fd_wait_result::ready: return wait_outcome::retry;
    case fd_wait_result::timed_out: errno = timeout_errno_; return wait_outcome::fail;
    case fd_wait_result::closed: errno = EBADF; return wait_outcome::fail;
    case fd_wait_result::interrupted:
        point.check();
        errno = EINTR;
        return wait_outcome::fail;
    case fd_wait_result::not_pollable: break;
    }
    GREEN_LOG(warn, "fd %d cannot be waited on; the call blocks its hub thread", fd_);
    blocked::note(call_ ? call_ : "I/O on an fd the poller refuses");
    return wait_outcome::block_natively;
}

bool io_wait::nowait_refused()
{
    if (info_.kind == fd_kind::socket || errno != EOPNOTSUPP)
        return false;
    info_.no_nowait = true;
    fd_table::note_no_nowait(fd_, info_.generation);
    return true;
}

bool io_wait::ready_now() const
{
    pollfd p{fd_, short(events_), 0};
    int saved = errno;
    int n = GREEN_REAL(poll)(&p, 1, 0);
    errno = saved;
    // An error, hang-up or invalid fd counts as ready: the transfer itself then reports it.
    return n != 0;
}

std::size_t io_wait::writable_size(std::size_t remaining) const
{
    // After POLLOUT a pipe has at least one free page slot, and a write of up to PIPE_BUF
    // bytes fits in it (merged into the last page or in a fresh one) without blocking.
    if (remaining <= PIPE_BUF || !info_.fifo)
        return remaining < PIPE_BUF ? remaining : PIPE_BUF;
    // Larger writes: each queued byte may occupy a whole page slot in the worst case, so the
    // slots surely free are capacity/page - queued bytes.
    int saved = errno;
    int capacity = GREEN_REAL(fcntl)(fd_, F_GETPIPE_SZ);
    int queued = 0;
    bool known = capacity > 0 && GREEN_REAL(ioctl)(fd_, FIONREAD, &queued) == 0;
    errno = saved;
    if (!known)
        return PIPE_BUF;
    long slots = capacity / PIPE_BUF;
    long free_slots = slots - (queued < slots ? queued : slots);
    std::size_t safe = std::size_t(free_slots) * PIPE_BUF;
    if (safe < PIPE_BUF)
        safe = PIPE_BUF;
    return remaining < safe ? remaining : safe;
}

iov_window::iov_window(const iovec* iov, int count, std::size_t offset, std::size_t limit)
{
    int first = 0;
    while (first < count && offset >= iov[first].iov_len) {
        offset -= iov[first].iov_len;
        ++first;
    }
    int n = count - first;
    if (n <= 0)
        return;
    iov_ = n <= inline_count ? inline_ : static_cast<iovec*>(std::malloc(sizeof(iovec) * n));
    if (!iov_)
        return;
    for (int i = 0; i < n && limit > 0; ++i) {
        iovec v = iov[first + i];
        if (i == 0) {
            v.iov_base = static_cast<char*>(v.iov_base) + offset;
            v.iov_len -= offset;
        }
        if (v.iov_len > limit)
            v.iov_len = limit;
        limit -= v.iov_len;
        iov_[count_++] = v;
    }
}

iov_window::~iov_window()
{
    if (iov_ && iov_ != inline_)
        std::free(iov_);
}

std::size_t iov_total(const iovec* iov, int count)
{
    std::size_t total = 0;
    for (int i = 0; i < count; ++i)
        total += iov[i].iov_len;
    return total;
}

}  // namespace green::hooks
