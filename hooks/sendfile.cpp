// sendfile, sendfile64.
//
// sendfile has no per-call non-blocking flag, and O_NONBLOCK is never set on the program's
// description (rule 4 of DESIGN.md), so a sendfile into a blocking socket or pipe that has more
// to send than the buffer holds must block somewhere. A green thread first parks until the fd
// is writable (so that a full socket parks, and a signal or SO_SNDTIMEO ends the wait as it ends
// the blocked call), then the call runs on the offload pool while the thread stays parked:
// the reader, often another green thread of the same hub, can run and drain it. Without this,
// the call blocked the hub thread, and a reader on that hub never ran (CPython's test_socket
// SendfileUsingSendfileTest hung).
#include "blocking_io.hpp"
#include "hook.hpp"
#include "offload.hpp"

#include <sys/epoll.h>
#include <sys/sendfile.h>

using namespace green;

namespace {

template <class Call>
ssize_t green_sendfile(int out_fd, Call& call)
{
    fd_info info = fd_table::lookup(out_fd);
    if (!info.green_for_writing())
        return call();
    int entry_errno = errno;
    hooks::io_wait w(out_fd, info, EPOLLOUT, info.kind == fd_kind::socket ? info.send_timeout : 0);
    for (;;) {
        if (w.ready_now())
            break;
        switch (w.wait()) {
        case hooks::wait_outcome::retry: continue;
        case hooks::wait_outcome::fail: return -1;
        case hooks::wait_outcome::block_natively: return call();
        }
    }
    struct job {
        Call* call;
        ssize_t result;
        int error;
    } j{&call, -1, 0};
    offload::run(
        [](void* p) {
            auto* j = static_cast<job*>(p);
            errno = 0;
            j->result = (*j->call)();
            j->error = errno;
        },
        &j);
    errno = j.result < 0 ? j.error : entry_errno;
    return j.result;
}

}  // namespace

GREEN_HOOK ssize_t sendfile(int out_fd, int in_fd, off_t* offset, size_t count)
{
    auto call = [&] { return GREEN_REAL(sendfile)(out_fd, in_fd, offset, count); };
    if (!hooks::green_caller() || count == 0)
        return call();
    return green_sendfile(out_fd, call);
}

GREEN_HOOK ssize_t sendfile64(int out_fd, int in_fd, off64_t* offset, size_t count)
{
    auto call = [&] { return GREEN_REAL(sendfile64)(out_fd, in_fd, offset, count); };
    if (!hooks::green_caller() || count == 0)
        return call();
    return green_sendfile(out_fd, call);
}
