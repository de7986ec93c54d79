/* Threads, the per-thread state a green thread must carry like a native one:
 * pthread_getattr_np (stack bounds that hold the thread's locals, the requested stack size and
 * guard size, a caller-supplied stack reported back exactly, detach state), names
 * (pthread_setname_np/getname_np and their ERANGE cases, a new thread inheriting its creator's
 * name as Linux does), thread-specific data (values per thread, destructors repeated up to
 * PTHREAD_DESTRUCTOR_ITERATIONS, none for NULL values or deleted keys, a recreated key starting
 * NULL everywhere, EINVAL for deleted keys, EAGAIN when keys run out), pthread_once with
 * concurrent callers, join and detach errors (EINVAL, EDEADLK, EBUSY, ETIMEDOUT), sched_yield
 * and pthread_equal.
 *
 * Threads record what they saw; main prints it after joining them, so the transcript does not
 * depend on the order threads run in.
 *
 * ESRCH: glibc 2.36 reports it for no valid pthread_t deterministically (pthread_kill and
 * pthread_cancel return 0 for a thread that has exited; pthread_getname_np gives ENOENT only
 * once the kernel thread is gone, which is a race), so no ESRCH case is printed. */
#include "transcript.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page;

/* ---- pthread_getattr_np ---- */

struct stack_seen {
    int rc;
    char *lo, *hi;   /* [stackaddr, stackaddr + stacksize) */
    size_t size, guard;
    int detachstate;
};

static struct stack_seen stack_of(pthread_t t)
{
    struct stack_seen s;
    memset(&s, 0, sizeof s);
    pthread_attr_t a;
    s.rc = pthread_getattr_np(t, &a);
    if (s.rc != 0)
        return s;
    void *addr = NULL;
    pthread_attr_getstack(&a, &addr, &s.size);
    s.lo = addr;
    s.hi = (char *)addr + s.size;
    pthread_attr_getguardsize(&a, &s.guard);
    pthread_attr_getdetachstate(&a, &s.detachstate);
    pthread_attr_destroy(&a);
    return s;
}

struct stack_probe {
    struct stack_seen self;
    char *local;
    sem_t reported, release;
};

static void *probe_stack(void *arg)
{
    struct stack_probe *p = arg;
    char local = 0;
    p->local = &local;
    usleep(1000); /* parks: the stack must still be the same one after */
    p->self = stack_of(pthread_self());
    sem_post(&p->reported);
    sem_wait(&p->release); /* main looks at this thread from outside meanwhile */
    return NULL;
}

static int inside(const struct stack_seen *s, const char *p)
{
    return p >= s->lo && p < s->hi;
}

/* Creates a thread with `a`, has it report its own stack, reports it from main too. Static:
 * a detached thread may still be leaving sem_wait when probe returns. */
static struct stack_seen probe(pthread_attr_t *a, const char *what)
{
    static struct stack_probe p;
    memset(&p, 0, sizeof p);
    sem_init(&p.reported, 0, 0);
    sem_init(&p.release, 0, 0);
    pthread_t t;
    int rc = pthread_create(&t, a, probe_stack, &p);
    show_rc(what, rc);
    if (rc != 0)
        return p.self;
    sem_wait(&p.reported);
    struct stack_seen outside = stack_of(t);
    int detached = a && (pthread_attr_getdetachstate(a, &rc), rc == PTHREAD_CREATE_DETACHED);
    show_rc("  thread: pthread_getattr_np(pthread_self())", p.self.rc);
    show_rc("  main: pthread_getattr_np(t)", outside.rc);
    say("  the thread's local variable lies inside its reported stack: %s",
        yesno(inside(&p.self, p.local)));
    say("  main sees the same stack as the thread: %s",
        yesno(outside.lo == p.self.lo && outside.size == p.self.size &&
              outside.guard == p.self.guard));
    say("  detach state: %s", p.self.detachstate == PTHREAD_CREATE_DETACHED ? "detached" : "joinable");
    sem_post(&p.release);
    if (!detached)
        show_rc("  pthread_join", pthread_join(t, NULL));
    return p.self;
}

static void attributes(void)
{
    pthread_attr_t a;
    char local = 0;

    say("== main thread");
    struct stack_seen m = stack_of(pthread_self());
    show_rc("pthread_getattr_np(pthread_self())", m.rc);
    say("  main's local variable lies inside its reported stack: %s", yesno(inside(&m, &local)));

    /* Ascending sizes, before any other thread with a set size has exited: glibc hands a
     * thread a cached stack of up to 4 times the size asked for, and reports that one. */
    static const size_t sizes[] = {64 * 1024, 256 * 1024, 1024 * 1024};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        say("== stack size %zu KiB", sizes[i] / 1024);
        CALL_ERRNUM(pthread_attr_init(&a));
        CALL_ERRNUM(pthread_attr_setstacksize(&a, sizes[i]));
        struct stack_seen s = probe(&a, "pthread_create(&t, &a, probe_stack, &p)");
        say("  reported stack size is the size asked for: %s", yesno(s.size == sizes[i]));
        say("  reported guard is one page: %s", yesno(s.guard == page));
        CALL_ERRNUM(pthread_attr_destroy(&a));
    }

    say("== default attributes");
    pthread_attr_t def;
    size_t def_size = 0;
    CALL_ERRNUM(pthread_getattr_default_np(&def));
    CALL_ERRNUM(pthread_attr_getstacksize(&def, &def_size));
    pthread_attr_destroy(&def);
    struct stack_seen s = probe(NULL, "pthread_create(&t, NULL, probe_stack, &p)");
    say("  reported stack size is the default one: %s", yesno(s.size == def_size));

    say("== guard size of 64 KiB + 5 bytes");
    CALL_ERRNUM(pthread_attr_init(&a));
    CALL_ERRNUM(pthread_attr_setguardsize(&a, 64 * 1024 + 5));
    s = probe(&a, "pthread_create(&t, &a, probe_stack, &p)");
    say("  reported guard is rounded up to whole pages: %s",
        yesno(s.guard == ((64 * 1024 + 5 + page - 1) / page) * page));
    CALL_ERRNUM(pthread_attr_destroy(&a));

    say("== guard size 0");
    CALL_ERRNUM(pthread_attr_init(&a));
    CALL_ERRNUM(pthread_attr_setguardsize(&a, 0));
    s = probe(&a, "pthread_create(&t, &a, probe_stack, &p)");
    say("  reported guard %zu", s.guard);
    CALL_ERRNUM(pthread_attr_destroy(&a));

    say("== caller-supplied stack of 384 KiB");
    size_t sz = 384 * 1024;
    char *stk = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(stk != MAP_FAILED);
    CALL_ERRNUM(pthread_attr_init(&a));
    CALL_ERRNUM(pthread_attr_setstack(&a, stk, sz));
    s = probe(&a, "pthread_create(&t, &a, probe_stack, &p)");
    say("  reported stack is exactly the one supplied: %s", yesno(s.lo == stk && s.size == sz));
    say("  reported guard %zu", s.guard);
    CALL_ERRNUM(pthread_attr_destroy(&a));
    munmap(stk, sz);

    say("== detached");
    CALL_ERRNUM(pthread_attr_init(&a));
    CALL_ERRNUM(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED));
    probe(&a, "pthread_create(&t, &a, probe_stack, &p)");
    CALL_ERRNUM(pthread_attr_destroy(&a));

    say("== attributes libc refuses");
    CALL_ERRNUM(pthread_attr_init(&a));
    CALL_ERRNUM(pthread_attr_setstacksize(&a, PTHREAD_STACK_MIN - 1));
    CALL_ERRNUM(pthread_attr_setstack(&a, stk, PTHREAD_STACK_MIN - 1));
    CALL_ERRNUM(pthread_attr_setdetachstate(&a, 42));
    CALL_ERRNUM(pthread_attr_destroy(&a));
}

/* ---- names ---- */

static sem_t named, may_finish;
static int child_name_rc;
static char child_name[32];
static int grand_rc;
static char grand_name[32];

static void *name_grandchild(void *arg)
{
    (void)arg;
    grand_rc = pthread_getname_np(pthread_self(), grand_name, sizeof grand_name);
    return NULL;
}

static void *named_thread(void *arg)
{
    (void)arg;
    /* Linux copies the creator's name into a new thread; read it before anyone renames us. */
    child_name_rc = pthread_getname_np(pthread_self(), child_name, sizeof child_name);
    sem_post(&named);
    sem_wait(&may_finish);
    /* Main has renamed this thread: a thread created now inherits the new name. */
    pthread_t g;
    if (pthread_create(&g, NULL, name_grandchild, NULL) == 0)
        pthread_join(g, NULL);
    else
        grand_rc = -1;
    return NULL;
}

static void names(const char *argv0)
{
    char buf[32];
    say("== names");
    CALL_ERRNUM(pthread_getname_np(pthread_self(), buf, sizeof buf));
    const char *base = strrchr(argv0, '/') ? strrchr(argv0, '/') + 1 : argv0;
    say("  main's name is the first 15 bytes of the program's file name: %s",
        yesno(strncmp(buf, base, 15) == 0 && strlen(buf) == (strlen(base) < 15 ? strlen(base) : 15)));
    CALL_ERRNUM(pthread_setname_np(pthread_self(), "main-fifteen-ch"));
    CALL_ERRNUM(pthread_setname_np(pthread_self(), "main-sixteen-chr"));
    CALL_ERRNUM(pthread_getname_np(pthread_self(), buf, 16));
    say("  name \"%s\"", buf);
    CALL_ERRNUM(pthread_getname_np(pthread_self(), buf, 15));
    CALL_ERRNUM(pthread_getname_np(pthread_self(), buf, 1));
    CALL_ERRNUM(pthread_getname_np(pthread_self(), buf, 0));

    CALL(sem_init(&named, 0, 0));
    CALL(sem_init(&may_finish, 0, 0));
    pthread_t t;
    CALL_ERRNUM(pthread_create(&t, NULL, named_thread, NULL));
    CALL(sem_wait(&named));
    show_rc("  thread: pthread_getname_np(pthread_self(), ...)", child_name_rc);
    say("  a new thread starts with its creator's name: \"%s\"", child_name);
    CALL_ERRNUM(pthread_setname_np(t, "renamed-by-main"));
    CALL_ERRNUM(pthread_getname_np(t, buf, sizeof buf));
    say("  name \"%s\"", buf);
    CALL_ERRNUM(pthread_setname_np(t, "0123456789abcdefXYZ"));
    CALL_ERRNUM(pthread_getname_np(t, buf, 8));
    CALL_ERRNUM(pthread_setname_np(t, ""));
    CALL_ERRNUM(pthread_getname_np(t, buf, sizeof buf));
    say("  name \"%s\"", buf);
    CALL_ERRNUM(pthread_setname_np(t, "renamed-again"));
    CALL(sem_post(&may_finish));
    CALL_ERRNUM(pthread_join(t, NULL));
    show_rc("  grandchild: pthread_getname_np(pthread_self(), ...)", grand_rc);
    say("  the grandchild starts with its creator's new name: \"%s\"", grand_name);
    CALL_ERRNUM(pthread_getname_np(pthread_self(), buf, sizeof buf));
    say("  main's name is still \"%s\"", buf);
}

/* ---- thread-specific data ---- */

enum { KT = 6 };

static pthread_key_t k_plain, k_again, k_forever, k_null, k_deleted;
static int plain_calls[KT], plain_arg_ok[KT], plain_value_cleared[KT];
static int again_calls[KT];
static int forever_calls[KT];
static int null_calls, deleted_calls;
static int own_values_ok[KT];
static int slot[KT];
static pthread_barrier_t all_set;
static sem_t key_deleted_sem;

static int index_of(void *v) { return (int)((int *)v - slot); }

static void plain_dtor(void *v)
{
    int i = index_of(v);
    __atomic_fetch_add(&plain_calls[i], 1, __ATOMIC_SEQ_CST);
    plain_arg_ok[i] = v == &slot[i];
    /* POSIX: the value is set to NULL before the destructor is called. */
    plain_value_cleared[i] = pthread_getspecific(k_plain) == NULL;
}

/* Sets its value again on its first two calls: three calls in all. */
static void again_dtor(void *v)
{
    int i = index_of(v);
    if (__atomic_add_fetch(&again_calls[i], 1, __ATOMIC_SEQ_CST) < 3)
        pthread_setspecific(k_again, v);
}

/* Sets its value again every time: libc stops after PTHREAD_DESTRUCTOR_ITERATIONS rounds. */
static void forever_dtor(void *v)
{
    __atomic_fetch_add(&forever_calls[index_of(v)], 1, __ATOMIC_SEQ_CST);
    pthread_setspecific(k_forever, v);
}

static void null_dtor(void *v)
{
    (void)v;
    __atomic_fetch_add(&null_calls, 1, __ATOMIC_SEQ_CST);
}

static void deleted_dtor(void *v)
{
    (void)v;
    __atomic_fetch_add(&deleted_calls, 1, __ATOMIC_SEQ_CST);
}

static pthread_key_t k_recreated;
static int recreated_null[KT];

static void *key_thread(void *arg)
{
    long i = (long)arg;
    int ok = 1;
    ok &= pthread_getspecific(k_plain) == NULL; /* main's value is main's */
    ok &= pthread_setspecific(k_plain, &slot[i]) == 0;
    ok &= pthread_setspecific(k_again, &slot[i]) == 0;
    ok &= pthread_setspecific(k_forever, &slot[i]) == 0;
    ok &= pthread_setspecific(k_null, &slot[i]) == 0;
    ok &= pthread_setspecific(k_null, NULL) == 0; /* NULL at exit: no destructor call */
    ok &= pthread_setspecific(k_deleted, &slot[i]) == 0;
    pthread_barrier_wait(&all_set);
    usleep(1000 * (unsigned)(KT - i)); /* parks while the others run */
    sched_yield();
    ok &= pthread_getspecific(k_plain) == &slot[i];
    ok &= pthread_getspecific(k_again) == &slot[i];
    ok &= pthread_getspecific(k_null) == NULL;
    own_values_ok[i] = ok;
    pthread_barrier_wait(&all_set);
    /* Main deletes k_deleted and creates k_recreated meanwhile (glibc gives it the same
     * slot): a value this thread set for the old key must not show through. */
    sem_wait(&key_deleted_sem);
    recreated_null[i] = pthread_getspecific(k_recreated) == NULL;
    return NULL;
}

static void keys(void)
{
    say("== thread-specific data, %d threads", KT);
    say("PTHREAD_DESTRUCTOR_ITERATIONS = %d", PTHREAD_DESTRUCTOR_ITERATIONS);
    CALL_ERRNUM(pthread_key_create(&k_plain, plain_dtor));
    CALL_ERRNUM(pthread_key_create(&k_again, again_dtor));
    CALL_ERRNUM(pthread_key_create(&k_forever, forever_dtor));
    CALL_ERRNUM(pthread_key_create(&k_null, null_dtor));
    CALL_ERRNUM(pthread_key_create(&k_deleted, deleted_dtor));
    say("five distinct keys: %s",
        yesno(k_plain != k_again && k_plain != k_forever && k_plain != k_null &&
              k_plain != k_deleted && k_again != k_forever && k_again != k_null &&
              k_again != k_deleted && k_forever != k_null && k_forever != k_deleted &&
              k_null != k_deleted));
    say("a fresh key reads NULL in main: %s", yesno(pthread_getspecific(k_plain) == NULL));
    static int mains;
    CALL_ERRNUM(pthread_setspecific(k_plain, &mains));

    CALL_ERRNUM(pthread_barrier_init(&all_set, NULL, KT + 1));
    CALL(sem_init(&key_deleted_sem, 0, 0));
    pthread_t t[KT];
    int crc = 0;
    for (long i = 0; i < KT; i++)
        crc |= pthread_create(&t[i], NULL, key_thread, (void *)i);
    show_rc("pthread_create (all)", crc);
    pthread_barrier_wait(&all_set); /* every thread has set its values */
    pthread_barrier_wait(&all_set); /* every thread has checked them */
    CALL_ERRNUM(pthread_key_delete(k_deleted));
    CALL_ERRNUM(pthread_key_delete(k_deleted));
    CALL_ERRNUM(pthread_setspecific(k_deleted, &mains));
    CALL_ERRNUM(pthread_key_create(&k_recreated, NULL));
    for (int i = 0; i < KT; i++)
        sem_post(&key_deleted_sem);
    int jrc = 0;
    for (int i = 0; i < KT; i++)
        jrc |= pthread_join(t[i], NULL);
    show_rc("pthread_join (all)", jrc);
    for (int i = 0; i < KT; i++)
        say("  thread %d: own values: %s; plain destructor: %d call(s), with its value: %s, "
            "value already NULL: %s; re-setting destructor: %d calls; always re-setting: %d "
            "calls; recreated key reads NULL: %s",
            i, yesno(own_values_ok[i]), plain_calls[i], yesno(plain_arg_ok[i]),
            yesno(plain_value_cleared[i]), again_calls[i], forever_calls[i],
            yesno(recreated_null[i]));
    say("destructor of a key whose value was NULL at exit: %d calls", null_calls);
    say("destructor of a deleted key: %d calls", deleted_calls);
    say("main's value intact: %s", yesno(pthread_getspecific(k_plain) == &mains));
    say("the recreated key reads NULL in main: %s", yesno(pthread_getspecific(k_recreated) == NULL));
    CALL_ERRNUM(pthread_key_delete(k_recreated));
    CALL_ERRNUM(pthread_key_delete(k_plain));
    CALL_ERRNUM(pthread_key_delete(k_again));
    CALL_ERRNUM(pthread_key_delete(k_forever));
    CALL_ERRNUM(pthread_key_delete(k_null));
    CALL_ERRNUM(pthread_key_delete(PTHREAD_KEYS_MAX + 5));
    CALL_ERRNUM(pthread_barrier_destroy(&all_set));

    say("== keys run out");
    static pthread_key_t many[PTHREAD_KEYS_MAX + 1];
    int n = 0, rc = 0;
    while (n < PTHREAD_KEYS_MAX + 1 && (rc = pthread_key_create(&many[n], NULL)) == 0)
        n++;
    /* How many the process has left depends on what else uses keys (the library may): only
     * the end is compared. */
    show_rc("the last pthread_key_create", rc);
    say("  at most PTHREAD_KEYS_MAX (%d) keys: %s", PTHREAD_KEYS_MAX, yesno(n <= PTHREAD_KEYS_MAX));
    int drc = 0;
    for (int i = 0; i < n; i++)
        drc |= pthread_key_delete(many[i]);
    show_rc("pthread_key_delete (all)", drc);
    pthread_key_t again;
    CALL_ERRNUM(pthread_key_create(&again, NULL));
    CALL_ERRNUM(pthread_key_delete(again));
}

/* ---- pthread_once ---- */

enum { OT = 16 };
static pthread_once_t once_a = PTHREAD_ONCE_INIT, once_inner = PTHREAD_ONCE_INIT;
static int runs_a, runs_inner;
static int seen_runs[OT], once_rc[OT];
static pthread_t once_runner;
static int runner_known;

static void inner_routine(void)
{
    __atomic_fetch_add(&runs_inner, 1, __ATOMIC_SEQ_CST);
}

static void routine_a(void)
{
    once_runner = pthread_self();
    runner_known = 1;
    usleep(20000); /* parks: the other callers must wait for it, not run it again */
    pthread_once(&once_inner, inner_routine); /* a once routine may use another control */
    __atomic_fetch_add(&runs_a, 1, __ATOMIC_SEQ_CST);
}

static void *once_thread(void *arg)
{
    long i = (long)arg;
    once_rc[i] = pthread_once(&once_a, routine_a);
    seen_runs[i] = __atomic_load_n(&runs_a, __ATOMIC_SEQ_CST);
    return NULL;
}

static void once_test(void)
{
    say("== pthread_once from %d threads at once", OT);
    pthread_t t[OT];
    int crc = 0, jrc = 0;
    for (long i = 0; i < OT; i++)
        crc |= pthread_create(&t[i], NULL, once_thread, (void *)i);
    show_rc("pthread_create (all)", crc);
    int runner_was_a_caller = 0;
    for (int i = 0; i < OT; i++) {
        jrc |= pthread_join(t[i], NULL);
        runner_was_a_caller |= runner_known && pthread_equal(t[i], once_runner);
    }
    show_rc("pthread_join (all)", jrc);
    say("routine ran %d time(s), its inner once routine %d time(s)", runs_a, runs_inner);
    say("the routine ran on one of the calling threads: %s", yesno(runner_was_a_caller));
    int all_after = 1, all_zero = 1;
    for (int i = 0; i < OT; i++) {
        all_after &= seen_runs[i] == 1;
        all_zero &= once_rc[i] == 0;
    }
    say("every caller returned 0: %s", yesno(all_zero));
    say("every caller returned after the routine had finished: %s", yesno(all_after));
    CALL_ERRNUM(pthread_once(&once_a, routine_a));
    CALL_ERRNUM(pthread_once(&once_inner, inner_routine));
    say("routine ran %d time(s), its inner once routine %d time(s)", runs_a, runs_inner);
}

/* ---- join and detach ---- */

/* A thread that waits on a semaphore of its own until main releases it, then returns `ret`.
 * One holder per thread, so a post meant for one thread can never release another. */
struct holder {
    sem_t go;
    void *ret;
};
static struct holder holders[5];

static void *held_thread(void *arg)
{
    struct holder *h = arg;
    sem_wait(&h->go);
    return h->ret;
}

static struct holder *holder(int i, long ret)
{
    sem_init(&holders[i].go, 0, 0);
    holders[i].ret = (void *)ret;
    return &holders[i];
}

static int thread_self_join_rc;

static void *self_joiner(void *arg)
{
    (void)arg;
    thread_self_join_rc = pthread_join(pthread_self(), NULL);
    return (void *)5;
}

static void joins(void)
{
    pthread_t t;
    pthread_attr_t a;
    void *ret = NULL;
    struct timespec dl;
    double t0;

    say("== joining and detaching a detached thread (still running)");
    CALL_ERRNUM(pthread_attr_init(&a));
    CALL_ERRNUM(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED));
    CALL_ERRNUM(pthread_create(&t, &a, held_thread, holder(0, 0)));
    CALL_ERRNUM(pthread_attr_destroy(&a));
    CALL_ERRNUM(pthread_join(t, NULL));
    CALL_ERRNUM(pthread_tryjoin_np(t, NULL));
    CALL_ERRNUM(pthread_detach(t));
    CALL(sem_post(&holders[0].go));

    say("== pthread_detach on a running thread, then join");
    CALL_ERRNUM(pthread_create(&t, NULL, held_thread, holder(1, 0)));
    CALL_ERRNUM(pthread_kill(t, 0));
    CALL_ERRNUM(pthread_detach(t));
    CALL_ERRNUM(pthread_detach(t));
    CALL_ERRNUM(pthread_join(t, NULL));
    CALL(sem_post(&holders[1].go));

    say("== self-join");
    CALL_ERRNUM(pthread_join(pthread_self(), NULL));
    CALL_ERRNUM(pthread_tryjoin_np(pthread_self(), NULL));
    dl = deadline(CLOCK_REALTIME, 50);
    CALL_ERRNUM(pthread_timedjoin_np(pthread_self(), NULL, &dl));
    CALL_ERRNUM(pthread_create(&t, NULL, self_joiner, NULL));
    CALL_ERRNUM(pthread_join(t, &ret));
    show_rc("  thread: pthread_join(pthread_self(), NULL)", thread_self_join_rc);
    say("  returned %ld", (long)ret);

    say("== tryjoin, timedjoin, clockjoin on a running thread");
    CALL_ERRNUM(pthread_create(&t, NULL, held_thread, holder(2, 17)));
    CALL_ERRNUM(pthread_tryjoin_np(t, &ret));
    dl = deadline(CLOCK_REALTIME, 50);
    t0 = mono_now();
    CALL_ERRNUM(pthread_timedjoin_np(t, &ret, &dl));
    say("  waited at least 45 ms: %s", yesno(mono_now() - t0 >= 0.045));
    dl = deadline(CLOCK_MONOTONIC, 50);
    t0 = mono_now();
    CALL_ERRNUM(pthread_clockjoin_np(t, &ret, CLOCK_MONOTONIC, &dl));
    say("  waited at least 45 ms: %s", yesno(mono_now() - t0 >= 0.045));
    dl = deadline(CLOCK_REALTIME, 50);
    CALL_ERRNUM(pthread_clockjoin_np(t, &ret, CLOCK_REALTIME, &dl));
    dl.tv_sec = 0;
    dl.tv_nsec = 0;
    CALL_ERRNUM(pthread_timedjoin_np(t, &ret, &dl));
    CALL_ERRNUM(pthread_clockjoin_np(t, &ret, CLOCK_MONOTONIC, &dl));
    dl = deadline(CLOCK_MONOTONIC, 50);
    CALL_ERRNUM(pthread_clockjoin_np(t, &ret, CLOCK_BOOTTIME, &dl));
    CALL_ERRNUM(pthread_clockjoin_np(t, &ret, CLOCK_PROCESS_CPUTIME_ID, &dl));
    CALL(sem_post(&holders[2].go));
    CALL_ERRNUM(pthread_timedjoin_np(t, &ret, NULL)); /* no deadline: waits */
    say("  returned %ld", (long)ret);

    say("== timedjoin that ends before its deadline");
    CALL_ERRNUM(pthread_create(&t, NULL, held_thread, holder(3, 18)));
    CALL(sem_post(&holders[3].go));
    dl = deadline(CLOCK_REALTIME, 20000);
    CALL_ERRNUM(pthread_timedjoin_np(t, &ret, &dl));
    say("  returned %ld", (long)ret);

    say("== tryjoin until the thread has ended");
    CALL_ERRNUM(pthread_create(&t, NULL, held_thread, holder(4, 19)));
    CALL(sem_post(&holders[4].go));
    int rc, tries = 0;
    while ((rc = pthread_tryjoin_np(t, &ret)) == EBUSY && tries++ < 20000)
        usleep(500);
    show_rc("  pthread_tryjoin_np at last", rc);
    say("  returned %ld", (long)ret);
}

/* ---- sched_yield and pthread_equal ---- */

static int yield_failures[2];
static pthread_t self_seen[2];

static void *yielder(void *arg)
{
    long i = (long)arg;
    self_seen[i] = pthread_self();
    for (int n = 0; n < 1000; n++)
        if (sched_yield() != 0)
            yield_failures[i]++;
    return NULL;
}

static void yields(void)
{
    say("== sched_yield, pthread_equal");
    pthread_t t[2];
    CALL(sched_yield());
    CALL_ERRNUM(pthread_create(&t[0], NULL, yielder, (void *)0));
    CALL_ERRNUM(pthread_create(&t[1], NULL, yielder, (void *)1));
    CALL_ERRNUM(pthread_join(t[0], NULL));
    CALL_ERRNUM(pthread_join(t[1], NULL));
    say("  failed sched_yield calls: %d, %d", yield_failures[0], yield_failures[1]);
    say("  pthread_equal(t[0], its own pthread_self()): %s", yesno(pthread_equal(t[0], self_seen[0])));
    say("  pthread_equal(t[1], its own pthread_self()): %s", yesno(pthread_equal(t[1], self_seen[1])));
    say("  pthread_equal(t[0], t[1]): %s", yesno(pthread_equal(t[0], t[1])));
    say("  pthread_equal(pthread_self(), t[0]): %s", yesno(pthread_equal(pthread_self(), t[0])));
    say("  pthread_equal(pthread_self(), pthread_self()): %s",
        yesno(pthread_equal(pthread_self(), pthread_self())));
}

int main(int argc, char **argv)
{
    (void)argc;
    page = (size_t)getpagesize();
    CALL(usleep(1000)); /* parks */
    attributes();
    names(argv[0]);
    keys();
    once_test();
    joins();
    yields();
    return 0;
}
