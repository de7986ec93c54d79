/* Threads, lifecycle: creation attributes (stack size, guard size, a caller-supplied stack,
 * detached), join and its errors (detached, self, tryjoin, timedjoin), exit values,
 * pthread_once, thread-specific data and its destructors (repeated as POSIX says), names,
 * pthread_self/pthread_equal, cancellation of a thread blocked in read and in sleep, sched_yield,
 * and errno per thread. Threads record what they saw; main prints it after joining. */
#include "transcript.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- attributes ---- */

struct stack_report {
    int getattr_rc, getstack_rc, getguard_rc, detach_rc;
    size_t size, guard;
    char *lo, *hi;   /* [stackaddr, stackaddr + size) as pthread_getattr_np reports it */
    char *local;     /* address of a local variable of the thread */
    int detachstate;
};

static void *report_stack(void *arg)
{
    struct stack_report *r = arg;
    char local = 0;
    pthread_attr_t a;
    r->local = &local;
    usleep(100); /* parks */
    r->getattr_rc = pthread_getattr_np(pthread_self(), &a);
    if (r->getattr_rc != 0)
        return NULL;
    void *addr = NULL;
    r->getstack_rc = pthread_attr_getstack(&a, &addr, &r->size);
    r->lo = addr;
    r->hi = (char *)addr + r->size;
    r->getguard_rc = pthread_attr_getguardsize(&a, &r->guard);
    r->detach_rc = pthread_attr_getdetachstate(&a, &r->detachstate);
    pthread_attr_destroy(&a);
    return NULL;
}

static void show_report(const struct stack_report *r)
{
    show_rc("  thread: pthread_getattr_np(pthread_self(), &a)", r->getattr_rc);
    show_rc("  thread: pthread_attr_getstack", r->getstack_rc);
    show_rc("  thread: pthread_attr_getguardsize", r->getguard_rc);
    show_rc("  thread: pthread_attr_getdetachstate", r->detach_rc);
    say("  thread: its local variable lies inside the reported stack: %s",
        yesno(r->local >= r->lo && r->local < r->hi));
    say("  thread: detach state is PTHREAD_CREATE_JOINABLE: %s",
        yesno(r->detachstate == PTHREAD_CREATE_JOINABLE));
}

static void attributes(void)
{
    pthread_attr_t a;
    pthread_t t;
    struct stack_report r;
    size_t v = 0;

    say("== default attributes");
    memset(&r, 0, sizeof r);
    CALL_ERRNUM(pthread_create(&t, NULL, report_stack, &r));
    CALL_ERRNUM(pthread_join(t, NULL));
    show_report(&r);
    pthread_attr_t def;
    size_t def_size = 0;
    CALL_ERRNUM(pthread_getattr_default_np(&def));
    CALL_ERRNUM(pthread_attr_getstacksize(&def, &def_size));
    pthread_attr_destroy(&def);
    say("  thread: stack size is the default one (pthread_getattr_default_np): %s",
        yesno(r.size == def_size));
    say("  thread: guard size is one page: %s", yesno(r.guard == (size_t)getpagesize()));

    say("== stack size 256 KiB");
    CALL_ERRNUM(pthread_attr_init(&a));
    CALL_ERRNUM(pthread_attr_setstacksize(&a, PTHREAD_STACK_MIN - 1));
    CALL_ERRNUM(pthread_attr_setstacksize(&a, 256 * 1024));
    CALL_ERRNUM(pthread_attr_getstacksize(&a, &v));
    say("  size %zu", v);
    memset(&r, 0, sizeof r);
    CALL_ERRNUM(pthread_create(&t, &a, report_stack, &r));
    CALL_ERRNUM(pthread_join(t, NULL));
    show_report(&r);
    say("  thread: stack size >= 256 KiB: %s", yesno(r.size >= 256 * 1024));
    say("  thread: stack size < 1 MiB: %s", yesno(r.size < 1024 * 1024));
    CALL_ERRNUM(pthread_attr_destroy(&a));

    say("== guard size 64 KiB");
    CALL_ERRNUM(pthread_attr_init(&a));
    CALL_ERRNUM(pthread_attr_setguardsize(&a, 64 * 1024));
    CALL_ERRNUM(pthread_attr_getguardsize(&a, &v));
    say("  guard %zu", v);
    memset(&r, 0, sizeof r);
    CALL_ERRNUM(pthread_create(&t, &a, report_stack, &r));
    CALL_ERRNUM(pthread_join(t, NULL));
    show_report(&r);
    say("  thread: guard size reported %zu", r.guard);
    CALL_ERRNUM(pthread_attr_destroy(&a));

    say("== caller-supplied stack, 512 KiB");
    size_t sz = 512 * 1024;
    void *stk = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(stk != MAP_FAILED);
    CALL_ERRNUM(pthread_attr_init(&a));
    CALL_ERRNUM(pthread_attr_setstack(&a, stk, sz));
    void *got = NULL;
    CALL_ERRNUM(pthread_attr_getstack(&a, &got, &v));
    say("  getstack returns what was set: %s", yesno(got == stk && v == sz));
    memset(&r, 0, sizeof r);
    CALL_ERRNUM(pthread_create(&t, &a, report_stack, &r));
    CALL_ERRNUM(pthread_join(t, NULL));
    show_report(&r);
    say("  thread: its local variable lies inside the supplied stack: %s",
        yesno(r.local >= (char *)stk && r.local < (char *)stk + sz));
    say("  thread: reported stack is the supplied one: %s",
        yesno(r.lo == (char *)stk && r.size == sz));
    CALL_ERRNUM(pthread_attr_destroy(&a));
    munmap(stk, sz);
}

/* ---- detached threads, join and its errors ---- */

static sem_t go, done;

static void *detached_thread(void *arg)
{
    (void)arg;
    sem_wait(&go);
    usleep(1000);
    sem_post(&done);
    return NULL;
}

static void *returns_42(void *arg)
{
    (void)arg;
    usleep(1000);
    return (void *)42;
}

static void leave(long v)
{
    pthread_exit((void *)v);
}

static void *exits_43(void *arg)
{
    (void)arg;
    usleep(1000);
    leave(43);
    return (void *)0;
}

static int pipe_wait_fd;

static void *waits_on_pipe(void *arg)
{
    (void)arg;
    char c = 0;
    ssize_t n = read(pipe_wait_fd, &c, dyn(1));
    return (void *)(long)(n == 1 ? c : -1);
}

static void joins(void)
{
    pthread_attr_t a;
    pthread_t t;
    void *ret = NULL;
    int ds = -1;

    say("== detached thread signalling through a semaphore");
    CALL(sem_init(&go, 0, 0));
    CALL(sem_init(&done, 0, 0));
    CALL_ERRNUM(pthread_attr_init(&a));
    CALL_ERRNUM(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED));
    CALL_ERRNUM(pthread_attr_getdetachstate(&a, &ds));
    say("  PTHREAD_CREATE_DETACHED: %s", yesno(ds == PTHREAD_CREATE_DETACHED));
    CALL_ERRNUM(pthread_create(&t, &a, detached_thread, NULL));
    CALL_ERRNUM(pthread_attr_destroy(&a));
    CALL_ERRNUM(pthread_join(t, NULL)); /* still running: it waits for `go` */
    CALL(sem_post(&go));
    CALL(sem_wait(&done));

    say("== pthread_detach, then join");
    CALL_ERRNUM(pthread_create(&t, NULL, detached_thread, NULL));
    CALL_ERRNUM(pthread_detach(t));
    CALL_ERRNUM(pthread_join(t, NULL));
    CALL(sem_post(&go));
    CALL(sem_wait(&done));

    say("== exit values");
    CALL_ERRNUM(pthread_create(&t, NULL, returns_42, NULL));
    CALL_ERRNUM(pthread_join(t, &ret));
    say("  returned %ld", (long)ret);
    CALL_ERRNUM(pthread_create(&t, NULL, exits_43, NULL));
    CALL_ERRNUM(pthread_join(t, &ret));
    say("  pthread_exit value %ld", (long)ret);

    say("== self-join");
    CALL_ERRNUM(pthread_join(pthread_self(), NULL));

    say("== tryjoin and timedjoin on a thread blocked in read");
    int p[2];
    CALL(pipe(p));
    pipe_wait_fd = p[0];
    CALL_ERRNUM(pthread_create(&t, NULL, waits_on_pipe, NULL));
    CALL_ERRNUM(pthread_tryjoin_np(t, &ret));
    struct timespec dl = deadline(CLOCK_REALTIME, 100);
    double t0 = mono_now();
    CALL_ERRNUM(pthread_timedjoin_np(t, &ret, &dl));
    say("  waited >= 90 ms: %s", yesno(mono_now() - t0 >= 0.09));
    dl = deadline(CLOCK_MONOTONIC, 100);
    t0 = mono_now();
    CALL_ERRNUM(pthread_clockjoin_np(t, &ret, CLOCK_MONOTONIC, &dl));
    say("  waited >= 90 ms: %s", yesno(mono_now() - t0 >= 0.09));
    CALL(write(p[1], "j", 1));
    dl = deadline(CLOCK_REALTIME, 10000);
    CALL_ERRNUM(pthread_timedjoin_np(t, &ret, &dl));
    say("  thread read '%c'", (char)(long)ret);
    close(p[0]);
    close(p[1]);
}

/* ---- pthread_once ---- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_runs;
static int once_seen[8];

static void once_routine(void)
{
    usleep(20000); /* the others wait for it */
    __atomic_fetch_add(&once_runs, 1, __ATOMIC_SEQ_CST);
}

static void *once_thread(void *arg)
{
    long id = (long)arg;
    int rc = pthread_once(&once, once_routine);
    once_seen[id] = rc == 0 ? __atomic_load_n(&once_runs, __ATOMIC_SEQ_CST) : -rc;
    return NULL;
}

static void once_test(void)
{
    say("== pthread_once from 8 threads");
    pthread_t t[8];
    int crc = 0, jrc = 0;
    for (long i = 0; i < 8; i++)
        crc |= pthread_create(&t[i], NULL, once_thread, (void *)i);
    for (int i = 0; i < 8; i++)
        jrc |= pthread_join(t[i], NULL);
    show_rc("pthread_create (all)", crc);
    show_rc("pthread_join (all)", jrc);
    say("routine ran %d time(s)", once_runs);
    for (int i = 0; i < 8; i++)
        say("  thread %d: after pthread_once the routine had run %d time(s)", i, once_seen[i]);
}

/* ---- thread-specific data ---- */

enum { KTHREADS = 4 };

static pthread_key_t key, key_again, key_forever, key_unset;
static int dtor_calls[KTHREADS];
static int dtor_again_calls[KTHREADS];
static int dtor_forever_calls;
static int dtor_unset_calls;
static int dtor_saw_value; /* a destructor sees its key's value still set */
static int slots[KTHREADS];
static int key_ok[KTHREADS];

static void dtor(void *v)
{
    int i = (int)((int *)v - slots);
    __atomic_fetch_add(&dtor_calls[i], 1, __ATOMIC_SEQ_CST);
    if (pthread_getspecific(key) != NULL)
        __atomic_fetch_add(&dtor_saw_value, 1, __ATOMIC_SEQ_CST);
}

/* Sets its value again twice: three calls in all (within PTHREAD_DESTRUCTOR_ITERATIONS). */
static void dtor_again(void *v)
{
    int i = (int)((int *)v - slots);
    int n = __atomic_add_fetch(&dtor_again_calls[i], 1, __ATOMIC_SEQ_CST);
    if (n < 3)
        pthread_setspecific(key_again, v);
}

/* Sets its value again every time: glibc gives up after PTHREAD_DESTRUCTOR_ITERATIONS. */
static void dtor_forever(void *v)
{
    __atomic_fetch_add(&dtor_forever_calls, 1, __ATOMIC_SEQ_CST);
    pthread_setspecific(key_forever, v);
}

static void dtor_unset(void *v)
{
    (void)v;
    __atomic_fetch_add(&dtor_unset_calls, 1, __ATOMIC_SEQ_CST);
}

static void *key_thread(void *arg)
{
    long id = (long)arg;
    int ok = pthread_getspecific(key) == NULL;
    ok &= pthread_setspecific(key, &slots[id]) == 0;
    ok &= pthread_setspecific(key_again, &slots[id]) == 0;
    usleep(1000 * (KTHREADS - id)); /* parks; the others set theirs meanwhile */
    sched_yield();
    ok &= pthread_getspecific(key) == &slots[id];
    ok &= pthread_getspecific(key_again) == &slots[id];
    ok &= pthread_getspecific(key_unset) == NULL;
    if (id == 0)
        ok &= pthread_setspecific(key_forever, &slots[id]) == 0;
    key_ok[id] = ok;
    return NULL;
}

static void keys(void)
{
    say("== thread-specific data");
    say("PTHREAD_DESTRUCTOR_ITERATIONS = %d", PTHREAD_DESTRUCTOR_ITERATIONS);
    CALL_ERRNUM(pthread_key_create(&key, dtor));
    CALL_ERRNUM(pthread_key_create(&key_again, dtor_again));
    CALL_ERRNUM(pthread_key_create(&key_forever, dtor_forever));
    CALL_ERRNUM(pthread_key_create(&key_unset, dtor_unset));
    static int mains;
    CALL_ERRNUM(pthread_setspecific(key, &mains));
    pthread_t t[KTHREADS];
    int crc = 0, jrc = 0;
    for (long i = 0; i < KTHREADS; i++)
        crc |= pthread_create(&t[i], NULL, key_thread, (void *)i);
    for (int i = 0; i < KTHREADS; i++)
        jrc |= pthread_join(t[i], NULL);
    show_rc("pthread_create (all)", crc);
    show_rc("pthread_join (all)", jrc);
    for (int i = 0; i < KTHREADS; i++)
        say("  thread %d: own values seen: %s; destructor calls: %d, re-setting destructor "
            "calls: %d", i, yesno(key_ok[i]), dtor_calls[i], dtor_again_calls[i]);
    say("destructors saw their own value still set: %d", dtor_saw_value);
    say("always re-setting destructor calls: %d", dtor_forever_calls);
    say("destructor of a key never set: %d calls", dtor_unset_calls);
    say("main's value intact: %s", yesno(pthread_getspecific(key) == &mains));
    CALL_ERRNUM(pthread_setspecific(key, NULL));
    CALL_ERRNUM(pthread_key_delete(key));
    CALL_ERRNUM(pthread_key_delete(key_again));
    CALL_ERRNUM(pthread_key_delete(key_forever));
    CALL_ERRNUM(pthread_key_delete(key_unset));
}

/* ---- names, self, equal ---- */

static pthread_t seen_self[2];
static char own_name[32];
static int own_name_rc[2];
static sem_t name_set;

static void *named_thread(void *arg)
{
    long id = (long)arg;
    seen_self[id] = pthread_self();
    if (id == 1) {
        own_name_rc[0] = pthread_setname_np(pthread_self(), "self-named");
        own_name_rc[1] = pthread_getname_np(pthread_self(), own_name, sizeof own_name);
    }
    sem_post(&name_set);
    sem_wait(&go); /* main reads the names meanwhile */
    return NULL;
}

static void names(void)
{
    say("== names, pthread_self, pthread_equal");
    pthread_t t[2];
    char buf[32];
    CALL(sem_init(&name_set, 0, 0));
    CALL_ERRNUM(pthread_create(&t[0], NULL, named_thread, (void *)0));
    CALL_ERRNUM(pthread_create(&t[1], NULL, named_thread, (void *)1));
    CALL(sem_wait(&name_set));
    CALL(sem_wait(&name_set));
    CALL_ERRNUM(pthread_setname_np(t[0], "worker-zero"));
    CALL_ERRNUM(pthread_setname_np(t[0], "a-name-longer-than-15"));
    CALL_ERRNUM(pthread_getname_np(t[0], buf, sizeof buf));
    say("  name \"%s\"", buf);
    CALL_ERRNUM(pthread_getname_np(t[0], buf, 4));
    CALL_ERRNUM(pthread_getname_np(t[1], buf, sizeof buf));
    say("  name \"%s\"", buf);
    show_rc("thread 1: pthread_setname_np(pthread_self(), \"self-named\")", own_name_rc[0]);
    show_rc("thread 1: pthread_getname_np(pthread_self(), ...)", own_name_rc[1]);
    say("  name \"%s\"", own_name);
    CALL_ERRNUM(pthread_setname_np(pthread_self(), "threads-main"));
    CALL_ERRNUM(pthread_getname_np(pthread_self(), buf, sizeof buf));
    say("  name \"%s\"", buf);
    say("pthread_equal(t[0], thread 0's pthread_self()): %s", yesno(pthread_equal(t[0], seen_self[0])));
    say("pthread_equal(t[1], thread 1's pthread_self()): %s", yesno(pthread_equal(t[1], seen_self[1])));
    say("pthread_equal(t[0], t[1]): %s", yesno(pthread_equal(t[0], t[1])));
    say("pthread_equal(pthread_self(), t[0]): %s", yesno(pthread_equal(pthread_self(), t[0])));
    say("pthread_equal(pthread_self(), pthread_self()): %s",
        yesno(pthread_equal(pthread_self(), pthread_self())));
    CALL(sem_post(&go));
    CALL(sem_post(&go));
    CALL_ERRNUM(pthread_join(t[0], NULL));
    CALL_ERRNUM(pthread_join(t[1], NULL));
    CALL(sem_destroy(&name_set));
}

/* ---- cancellation ---- */

static int cancel_fd;
static int cleanups_run[2];
static sem_t about_to_block;

static void cleanup(void *arg)
{
    cleanups_run[(long)arg]++;
}

static void *cancel_in_read(void *arg)
{
    (void)arg;
    char c;
    void *r = NULL;
    pthread_cleanup_push(cleanup, (void *)0);
    sem_post(&about_to_block);
    ssize_t n = read(cancel_fd, &c, dyn(1));
    r = (void *)(long)n; /* not reached */
    pthread_cleanup_pop(0);
    return r;
}

static void *cancel_in_sleep(void *arg)
{
    (void)arg;
    void *r = NULL;
    pthread_cleanup_push(cleanup, (void *)1);
    sem_post(&about_to_block);
    r = (void *)(long)sleep(10);
    pthread_cleanup_pop(0);
    return r;
}

static void cancels(void)
{
    pthread_t t;
    void *ret = NULL;
    int p[2];

    say("== cancel a thread blocked in read on a pipe");
    CALL(sem_init(&about_to_block, 0, 0));
    CALL(pipe(p));
    cancel_fd = p[0];
    CALL_ERRNUM(pthread_create(&t, NULL, cancel_in_read, NULL));
    CALL(sem_wait(&about_to_block));
    CALL(usleep(50000)); /* in read by now; if not, the cancel still acts in read */
    CALL_ERRNUM(pthread_cancel(t));
    CALL_ERRNUM(pthread_join(t, &ret));
    say("  joined PTHREAD_CANCELED: %s", yesno(ret == PTHREAD_CANCELED));
    say("  cleanup handler ran %d time(s)", cleanups_run[0]);
    /* the pipe still works */
    char c = 0;
    CALL(write(p[1], "k", 1));
    CALL(read(p[0], &c, dyn(1)));
    show_bytes("read", &c, 1);
    close(p[0]);
    close(p[1]);

    say("== cancel a thread in sleep(10)");
    double t0 = mono_now();
    CALL_ERRNUM(pthread_create(&t, NULL, cancel_in_sleep, NULL));
    CALL(sem_wait(&about_to_block));
    CALL(usleep(50000));
    CALL_ERRNUM(pthread_cancel(t));
    CALL_ERRNUM(pthread_join(t, &ret));
    say("  joined PTHREAD_CANCELED: %s", yesno(ret == PTHREAD_CANCELED));
    say("  cleanup handler ran %d time(s)", cleanups_run[1]);
    say("  well before the sleep's end: %s", yesno(mono_now() - t0 < 5));
    CALL(sem_destroy(&about_to_block));
}

/* ---- sched_yield, errno per thread ---- */

static int yield_fail[2];
static int errno_before[2], errno_after[2];
static pthread_barrier_t both_set;

static void *yielder(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < 2000; i++)
        if (sched_yield() != 0)
            yield_fail[id]++;
    return NULL;
}

static void *errno_keeper(void *arg)
{
    long id = (long)arg;
    errno = id == 0 ? EDOM : ERANGE;
    errno_before[id] = errno;
    pthread_barrier_wait(&both_set); /* both have set theirs */
    errno = errno_before[id];
    usleep(5000 * (id + 1));
    errno = errno_before[id];
    for (int i = 0; i < 100; i++)
        sched_yield();
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    errno_after[id] = errno;
    return NULL;
}

static void yields_and_errno(void)
{
    say("== sched_yield loop in 2 threads");
    pthread_t t[2];
    CALL_ERRNUM(pthread_create(&t[0], NULL, yielder, (void *)0));
    CALL_ERRNUM(pthread_create(&t[1], NULL, yielder, (void *)1));
    CALL_ERRNUM(pthread_join(t[0], NULL));
    CALL_ERRNUM(pthread_join(t[1], NULL));
    say("  failed sched_yield calls: %d, %d", yield_fail[0], yield_fail[1]);
    CALL(sched_yield());

    say("== errno is per thread");
    CALL_ERRNUM(pthread_barrier_init(&both_set, NULL, 2));
    CALL_ERRNUM(pthread_create(&t[0], NULL, errno_keeper, (void *)0));
    CALL_ERRNUM(pthread_create(&t[1], NULL, errno_keeper, (void *)1));
    errno = EPIPE;
    usleep(2000);
    int mine = errno;
    CALL_ERRNUM(pthread_join(t[0], NULL));
    CALL_ERRNUM(pthread_join(t[1], NULL));
    say("  thread 0: set %s, after sleeps and yields %s", errno_name(errno_before[0]),
        errno_name(errno_after[0]));
    say("  thread 1: set %s, after sleeps and yields %s", errno_name(errno_before[1]),
        errno_name(errno_after[1]));
    say("  main: set EPIPE, after a sleep %s", errno_name(mine));
    CALL_ERRNUM(pthread_barrier_destroy(&both_set));
}

int main(void)
{
    CALL(usleep(1000)); /* parks */
    attributes();
    joins();
    once_test();
    keys();
    names();
    cancels();
    yields_and_errno();
    return 0;
}
