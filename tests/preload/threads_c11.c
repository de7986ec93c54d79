/* C11 threads (<threads.h>): thrd_create/join/detach/exit/sleep/yield, mtx (plain, timed,
 * recursive), cnd wait/timedwait/signal/broadcast, tss with a destructor, call_once. glibc builds
 * these on its own pthread internals, so under libgreen they must be routed to the green
 * implementations; the sleeps and waits make the green run park. */
#include "transcript.h"

#include <threads.h>
#include <time.h>

enum { WORKERS = 8 };

static mtx_t mu;
static cnd_t ready_cv;
static int ready, go;
static tss_t slot;
static once_flag once = ONCE_FLAG_INIT;
static int once_runs, destructor_runs;

static void count_once(void) { once_runs++; }

static void on_exit_slot(void *p)
{
    (void)p;
    mtx_lock(&mu);
    destructor_runs++;
    mtx_unlock(&mu);
}

static int worker(void *arg)
{
    long id = (long)arg;
    call_once(&once, count_once);
    tss_set(slot, (void *)(id + 1));
    struct timespec nap = {0, 1000000 * (WORKERS - id)};
    thrd_sleep(&nap, NULL);
    mtx_lock(&mu);
    ready++;
    cnd_broadcast(&ready_cv);
    while (!go)
        cnd_wait(&ready_cv, &mu);
    mtx_unlock(&mu);
    thrd_yield();
    if ((long)tss_get(slot) != id + 1)
        return -1;
    if (id == 0)
        thrd_exit(100);
    return (int)id * 3;
}

int main(void)
{
    say("mtx_init(&mu, mtx_plain | mtx_timed) = %d", mtx_init(&mu, mtx_plain | mtx_timed));
    say("cnd_init = %d", cnd_init(&ready_cv));
    say("tss_create = %d", tss_create(&slot, on_exit_slot));
    thrd_t t[WORKERS];
    for (long i = 0; i < WORKERS; i++)
        if (thrd_create(&t[i], worker, (void *)i) != thrd_success)
            say("thrd_create %ld failed", i);
    mtx_lock(&mu);
    while (ready < WORKERS)
        cnd_wait(&ready_cv, &mu);
    say("all %d workers ready", ready);
    struct timespec soon;
    timespec_get(&soon, TIME_UTC);
    soon.tv_nsec += 20000000;
    if (soon.tv_nsec >= 1000000000) {
        soon.tv_sec++;
        soon.tv_nsec -= 1000000000;
    }
    say("cnd_timedwait with nobody signalling = %s",
        cnd_timedwait(&ready_cv, &mu, &soon) == thrd_timedout ? "thrd_timedout" : "other");
    go = 1;
    cnd_broadcast(&ready_cv);
    mtx_unlock(&mu);
    for (long i = 0; i < WORKERS; i++) {
        int r = -7;
        int e = thrd_join(t[i], &r);
        say("thrd_join(%ld) = %d, result %d", i, e, r);
    }
    say("call_once routine ran %d time(s); tss destructor ran %d time(s)", once_runs,
        destructor_runs);

    mtx_t rec;
    say("mtx_init(&rec, mtx_recursive) = %d", mtx_init(&rec, mtx_plain | mtx_recursive));
    say("mtx_lock x2 = %d %d", mtx_lock(&rec), mtx_lock(&rec));
    say("mtx_trylock = %d", mtx_trylock(&rec));
    say("mtx_unlock x3 = %d %d %d", mtx_unlock(&rec), mtx_unlock(&rec), mtx_unlock(&rec));
    mtx_destroy(&rec);
    say("mtx_trylock(&mu) = %d, again = %s", mtx_trylock(&mu),
        mtx_trylock(&mu) == thrd_busy ? "thrd_busy" : "other");
    mtx_unlock(&mu);

    thrd_t d;
    thrd_create(&d, worker, (void *)5);
    say("thrd_detach = %d", thrd_detach(d));
    struct timespec nap = {0, 50000000};
    say("thrd_sleep = %d", thrd_sleep(&nap, NULL));
    say("thrd_equal(self, self) = %d", thrd_equal(thrd_current(), thrd_current()) != 0);
    tss_delete(slot);
    cnd_destroy(&ready_cv);
    mtx_destroy(&mu);
    return 0;
}
