/* libgreen's public interface: lets a program ask whether it runs under libgreen (green-run or
 * LD_PRELOAD=libgreen.so) and read the library's counters.
 *
 * Everything here is a static inline function that looks the library up at run time with
 * dlsym(RTLD_DEFAULT), so a program built with this header links against nothing and runs the
 * same binary with or without the library: without it, green_active() is 0, green_read_stats()
 * fails and green_thread_id() is 0. Build with `pkg-config --cflags libgreen`. Needs glibc 2.34
 * or later (dlsym in libc), or -ldl.
 */
#ifndef LIBGREEN_GREEN_H
#define LIBGREEN_GREEN_H

#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's counters since the program started. hubs to sleeps are counted only when
 * GREEN_STATS=1 (counting costs an atomic add per event); `counting` says whether they are.
 * blocked_calls is always counted. New fields are only ever added at the end. */
struct green_stats {
    uint64_t hubs;          /* hub threads started */
    uint64_t green_threads; /* green threads, each hub's initial one included */
    uint64_t parks;         /* times a green thread parked */
    uint64_t fd_waits;      /* parks on fds */
    uint64_t sleeps;        /* parks on timers */
    uint64_t blocked_calls; /* calls that had to block a hub thread (GREEN_STATS lists them) */
    int counting;           /* 1 when GREEN_STATS=1 asked for the counts above */
};

/* The library's function `name`, looked up once per translation unit and kept in *slot;
 * null without the library. */
static inline void *green_h_lookup_(const char *name, void **slot, int *looked)
{
    if (!*looked) {
        *slot = dlsym(RTLD_DEFAULT, name);
        *looked = 1;
    }
    return *slot;
}

typedef int (*green_h_active_fn_)(void);
typedef int (*green_h_read_stats_fn_)(struct green_stats *, size_t);
typedef uint64_t (*green_h_thread_id_fn_)(void);

/* 1 when libgreen is loaded and started in this process, 0 otherwise. */
static inline int green_active(void)
{
    static void *slot;
    static int looked;
    void *p = green_h_lookup_("green_api_active", &slot, &looked);
    green_h_active_fn_ fn;
    memcpy(&fn, &p, sizeof fn);
    return fn ? fn() : 0;
}

/* Fills *stats and returns 0; without the library, zeroes it and returns -1. */
static inline int green_read_stats(struct green_stats *stats)
{
    static void *slot;
    static int looked;
    void *p = green_h_lookup_("green_api_read_stats", &slot, &looked);
    green_h_read_stats_fn_ fn;
    memcpy(&fn, &p, sizeof fn);
    memset(stats, 0, sizeof *stats);
    return fn ? fn(stats, sizeof *stats) : -1;
}

/* The calling green thread's id (nonzero, unique among the green threads of its hub), or 0
 * when the caller is not a green thread (no library, GREEN_THREADS=native, a runtime thread). */
static inline uint64_t green_thread_id(void)
{
    static void *slot;
    static int looked;
    void *p = green_h_lookup_("green_api_thread_id", &slot, &looked);
    green_h_thread_id_fn_ fn;
    memcpy(&fn, &p, sizeof fn);
    return fn ? fn() : 0;
}

#ifdef __cplusplus
}
#endif

#endif
