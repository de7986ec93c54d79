#include "real.hpp"

#include "internal.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <unistd.h>

namespace green::real {
namespace {

[[noreturn]] void missing(const char* name)
{
    // Without the real function there is nothing faithful to do; say which and stop.
    char line[160];
    int n = std::snprintf(line, sizeof line,
                          "libgreen: cannot find the C library's %s; is this a glibc system?\n",
                          name);
    syscall(SYS_write, 2, line, n > 0 ? std::size_t(n) : 0);
    std::abort();
}

}  // namespace

void* lookup(const char* name)
{
    internal_scope scope;
    int saved = errno;
    void* p = dlsym(RTLD_NEXT, name);
    errno = saved;
    if (!p)
        missing(name);
    return p;
}

void* lookup_versioned(const char* name, const char* version)
{
    internal_scope scope;
    int saved = errno;
    void* p = dlvsym(RTLD_NEXT, name, version);
    errno = saved;
    if (!p)
        missing(name);
    return p;
}

}  // namespace green::real
