// What every hook shares: the export macro and the one question each hook asks first.
#pragma once

#include "hub.hpp"
#include "init.hpp"
#include "real.hpp"

#include <cstdint>

// Interposed libc names are the only symbols libgreen.so exports (see preload/libgreen.map).
#define GREEN_HOOK extern "C" __attribute__((visibility("default")))

namespace green::hooks {

// Who is calling. Every hook asks this first.
//   raw:     straight to libc, with no bookkeeping at all: before start-up is done, in a vfork
//            child (the runtime's memory is its parent's: the child's fds are its own copies,
//            so the parent's table stays true only if the child touches nothing), and inside a
//            program's signal handler (the code it interrupted may hold any runtime lock, and a
//            handler must not park). The real functions a handler may call are resolved at
//            start-up (preload/real.cpp), so this path never meets the loader's lock either.
//   runtime: the runtime's own calls (libuv, c-ares, diagnostics): never green; the fds they
//            make are the runtime's.
//   program: the program's calls: green where the flow may park (green_caller).
enum class caller : std::uint8_t { raw, runtime, program };

inline caller who_calls()
{
    if (__builtin_expect((tls.vfork_depth | tls.signal_depth) != 0, 0))
        return caller::raw;
    if (!preload::ready())
        return caller::raw;
    return tls.internal_depth ? caller::runtime : caller::program;
}

inline bool raw_caller()
{
    return who_calls() == caller::raw;
}

// Raw because a program's signal handler runs: fd bookkeeping is then only what can be done
// without a lock (fd_table::note_closed_in_handler).
inline bool in_signal_handler()
{
    return tls.signal_depth != 0 && tls.vfork_depth == 0;
}

inline bool in_vfork_child()
{
    return tls.vfork_depth != 0;
}

// Should this call be made green? Not for raw or runtime callers, on a hub's context nor on
// threads the runtime keeps native: those go straight to libc. A green caller's call counts
// toward its time slice (count_call): a hook that asks this question first, and does not
// park, still lets the hub run when the slice is used up.
inline bool green_caller()
{
    if (who_calls() != caller::program || !may_park())
        return false;
    count_call();
    return true;
}

}  // namespace green::hooks
