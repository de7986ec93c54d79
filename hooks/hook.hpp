// What every hook shares: the export macro and the one question each hook asks first.
#pragma once

#include "hub.hpp"
#include "init.hpp"
#include "real.hpp"

// Interposed libc names are the only symbols libgreen.so exports (see preload/libgreen.map).
#define GREEN_HOOK extern "C" __attribute__((visibility("default")))

namespace green::hooks {

// Should this call be made green? No before start-up is done, inside the runtime's own calls,
// on a hub's context and on threads the runtime keeps native: those go straight to libc.
inline bool green_caller()
{
    return preload::ready() && may_park();
}

}  // namespace green::hooks
