// select, __select, pselect.
#include "readiness.hpp"

#include <cstdio>
#include <cstring>
#include <sys/select.h>

extern "C" int __select(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds,
                        timeval* timeout);

using namespace green;

namespace {

constexpr std::size_t word_bits = 8 * sizeof(unsigned long);

// How many bits of each set the kernel reads: nfds, capped at the size of the process's fd
// table (FDSize), which is at least the highest open fd + 1. A set of nfds bits is only sure to
// be that large up to FD_SETSIZE (programs pass getdtablesize() with a plain fd_set), so beyond
// that the copy below reads no more than the kernel does.
std::size_t kernel_bits(int nfds)
{
    if (nfds <= FD_SETSIZE)
        return std::size_t(nfds);
    internal_scope scope;
    std::size_t size = std::size_t(nfds);
    if (FILE* f = std::fopen("/proc/self/status", "re")) {
        char line[128];
        while (std::fgets(line, sizeof line, f))
            if (unsigned long n; std::sscanf(line, "FDSize: %lu", &n) == 1) {
                size = n < size ? n : size;
                break;
            }
        std::fclose(f);
    }
    return size;
}

// The program's three sets as given: the real select rewrites them at each look, and an
// interrupted select leaves them as they were.
class saved_sets {
public:
    saved_sets(std::size_t bits, fd_set* r, fd_set* w, fd_set* e)
        : words_((bits + word_bits - 1) / word_bits), sets_{r, w, e}
    {
        std::size_t need = 3 * words_;
        copy_ = need <= inline_words ? inline_
                                     : static_cast<unsigned long*>(std::malloc(need * sizeof(long)));
        if (!copy_)
            return;
        for (int i = 0; i < 3; ++i)
            if (sets_[i])
                std::memcpy(copy_ + i * words_, sets_[i], words_ * sizeof(long));
    }
    ~saved_sets()
    {
        if (copy_ != inline_)
            std::free(copy_);
    }
    saved_sets(const saved_sets&) = delete;
    saved_sets& operator=(const saved_sets&) = delete;

    bool ok() const { return copy_ != nullptr; }
    void restore()
    {
        for (int i = 0; i < 3; ++i)
            if (sets_[i])
                std::memcpy(sets_[i], copy_ + i * words_, words_ * sizeof(long));
    }
    // Each fd in any set once, with what wakes it: readable (or hang-up, error), writable (or
    // error), exceptional (urgent data: EPOLLPRI).
    void fill(hooks::watch_list& watches, std::size_t bits) const
    {
        for (std::size_t fd = 0; fd < bits; ++fd) {
            std::size_t word = fd / word_bits;
            unsigned long bit = 1ul << (fd % word_bits);
            std::uint32_t events = 0;
            if (sets_[0] && (copy_[word] & bit))
                events |= EPOLLIN | EPOLLERR;
            if (sets_[1] && (copy_[words_ + word] & bit))
                events |= EPOLLOUT | EPOLLERR;
            if (sets_[2] && (copy_[2 * words_ + word] & bit))
                events |= EPOLLPRI;
            if (events)
                watches.add(int(fd), events);
        }
    }
    std::size_t count(std::size_t bits) const
    {
        std::size_t n = 0;
        for (std::size_t i = 0; i < 3 * words_; ++i)
            n += std::size_t(__builtin_popcountl(copy_[i]));
        return n < bits ? n : bits;
    }

private:
    static constexpr std::size_t inline_words = 3 * (FD_SETSIZE / word_bits);
    std::size_t words_;
    fd_set* sets_[3];
    unsigned long inline_[inline_words];
    unsigned long* copy_;
};

// The green wait; `block` is the real call as the program made it.
template <class Block>
int green_select(int nfds, fd_set* r, fd_set* w, fd_set* e, std::uint64_t deadline,
                 const sigset_t* mask, Block&& block)
{
    std::size_t bits = kernel_bits(nfds);
    saved_sets saved(bits, r, w, e);
    if (!saved.ok())
        return block();
    bool rewritten = false;
    int result = hooks::wait_ready(
        "select", deadline, mask, saved.count(bits),
        [&] {
            static const timespec zero{};
            rewritten = true;
            return GREEN_REAL(pselect)(nfds, r, w, e, &zero, mask);
        },
        [&] {
            if (rewritten)
                saved.restore();
            rewritten = true;
            timeval zero{};
            return GREEN_REAL(select)(nfds, r, w, e, &zero);
        },
        [&](hooks::watch_list& watches) { saved.fill(watches, bits); }, block);
    if (result < 0 && errno == EINTR) {
        int saved_errno = errno;
        saved.restore();  // an interrupted select leaves the sets as they were
        errno = saved_errno;
    }
    return result;
}

std::uint64_t timeval_delay(const timeval& tv)
{
    // As glibc: microseconds beyond a second carry into the seconds; years are "never".
    std::uint64_t us = std::uint64_t(tv.tv_usec);
    std::uint64_t s = std::uint64_t(tv.tv_sec) + us / 1000000u;
    if (s > UINT64_MAX / 1000000000u - 1)
        return UINT64_MAX;
    return s * 1000000000u + (us % 1000000u) * 1000u;
}

}  // namespace

GREEN_HOOK int select(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds,
                      timeval* timeout)
{
    // glibc fails a negative timeout with EINVAL itself; a zero timeout never parks.
    if (!hooks::green_caller() || nfds < 0 ||
        (timeout && (timeout->tv_sec < 0 || timeout->tv_usec < 0 || timeval_delay(*timeout) == 0)))
        return GREEN_REAL(select)(nfds, readfds, writefds, exceptfds, timeout);
    std::uint64_t delay = timeout ? timeval_delay(*timeout) : 0;
    std::uint64_t deadline = hooks::readiness_deadline(timeout ? &delay : nullptr);
    int r = green_select(nfds, readfds, writefds, exceptfds, deadline, nullptr, [&] {
        timeval left{};
        if (timeout) {
            std::uint64_t now = now_ns();
            left.tv_sec = time_t((deadline > now ? deadline - now : 0) / 1000000000u);
            left.tv_usec = suseconds_t((deadline > now ? deadline - now : 0) % 1000000000u / 1000u);
        }
        return GREEN_REAL(select)(nfds, readfds, writefds, exceptfds, timeout ? &left : nullptr);
    });
    if (timeout) {
        // Linux writes the time not slept back, whatever the result (select(2), "Linux").
        int saved = errno;
        std::uint64_t now = now_ns();
        std::uint64_t left = deadline > now ? deadline - now : 0;
        timeout->tv_sec = time_t(left / 1000000000u);
        timeout->tv_usec = suseconds_t(left % 1000000000u / 1000u);
        errno = saved;
    }
    return r;
}

GREEN_HOOK int __select(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds,
                        timeval* timeout)
{
    return select(nfds, readfds, writefds, exceptfds, timeout);
}

GREEN_HOOK int pselect(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds,
                       const timespec* timeout, const sigset_t* mask)
{
    // An invalid timeout fails at once with EINVAL, from libc; a zero one never parks.
    if (!hooks::green_caller() || nfds < 0 ||
        (timeout && (timeout->tv_sec < 0 || timeout->tv_nsec < 0 ||
                     timeout->tv_nsec >= 1000000000L || timespec_to_ns(*timeout) == 0)))
        return GREEN_REAL(pselect)(nfds, readfds, writefds, exceptfds, timeout, mask);
    std::uint64_t delay = timeout ? timespec_to_ns(*timeout) : 0;
    std::uint64_t deadline = hooks::readiness_deadline(timeout ? &delay : nullptr);
    return green_select(nfds, readfds, writefds, exceptfds, deadline, mask, [&] {
        return GREEN_REAL(pselect)(nfds, readfds, writefds, exceptfds, timeout, mask);
    });
}
