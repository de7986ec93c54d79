/* Threads, cancellation: deferred cancellation of threads blocked in read, recv, sleep,
 * nanosleep, pthread_cond_wait, pthread_cond_timedwait, pthread_join and sem_wait; cleanup
 * handlers run in reverse order of pushing, before the thread's key destructors; the mutex of a
 * cancelled condition wait is held again by the time the first handler runs; PTHREAD_CANCELED
 * as the join result; pthread_setcancelstate and pthread_setcanceltype (values and EINVAL);
 * pthread_testcancel acting on a request made while cancellation was disabled; a thread
 * cancelling itself; pthread_cleanup_pop(1) and pthread_exit running the handlers; cancelling a
 * thread that has already returned; a cancelled pthread_once routine leaving the once control
 * as if never called; a detached thread cancelled in a sleep.
 *
 * Threads record what they saw; main prints it after joining them. Where a thread might or
 * might not have reached its blocking call when main cancels it, the outcome is the same either
 * way (deferred cancellation acts at the call), so the transcript does not depend on timing.
 *
 * Asynchronous cancellation (PTHREAD_CANCEL_ASYNCHRONOUS acting in the middle of computation)
 * is not exercised: only the type's value is. */
#include "transcript.h"

#include <pthread.h>
#include <semaphore.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- a victim per blocking call ---- */

enum kind { K_READ, K_RECV, K_SLEEP, K_NANOSLEEP, K_COND_WAIT, K_COND_TIMEDWAIT, K_JOIN,
            K_SEM_WAIT, K_COUNT };
static const char *const kind_call[K_COUNT] = {
    "read on an empty pipe", "recv on a quiet socketpair", "sleep(10)",
    "nanosleep of 10 s", "pthread_cond_wait", "pthread_cond_timedwait with a 10 s deadline",
    "pthread_join of a thread that waits", "sem_wait on a zero semaphore",
};

struct victim {
    enum kind kind;
    char log[16];      /* cleanup handlers and the key destructor append a letter each */
    int logn;
    int returned;      /* the blocking call returned (it must not) */
    int unlock_rc;     /* K_COND_*: pthread_mutex_unlock in the cleanup handler */
    sem_t ready;
};

static pthread_key_t log_key;
static int fds[2];                 /* K_READ: a pipe; K_RECV: a socketpair */
static pthread_mutex_t cond_mutex; /* error-checking: unlock fails unless the caller holds it */
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static pthread_t join_target;
static sem_t never_posted, target_go;

static void append(struct victim *v, char c)
{
    if (v->logn < (int)sizeof v->log - 1)
        v->log[v->logn++] = c;
}

static void cleanup_a(void *arg) { append(arg, 'A'); }
static void cleanup_b(void *arg) { append(arg, 'B'); }
static void destructor_d(void *arg) { append(arg, 'D'); }

static void cleanup_unlock(void *arg)
{
    struct victim *v = arg;
    v->unlock_rc = pthread_mutex_unlock(&cond_mutex);
    append(v, 'U');
}

static void *target_thread(void *arg)
{
    (void)arg;
    sem_wait(&target_go);
    return (void *)61;
}

static void block(struct victim *v)
{
    char c;
    ssize_t n;
    struct timespec ts = {10, 0};
    switch (v->kind) {
    case K_READ:
        n = read(fds[0], &c, dyn(1));
        (void)n;
        break;
    case K_RECV:
        n = recv(fds[0], &c, dyn(1), 0);
        (void)n;
        break;
    case K_SLEEP:
        sleep(10);
        break;
    case K_NANOSLEEP:
        nanosleep(&ts, NULL);
        break;
    case K_COND_WAIT:
    case K_COND_TIMEDWAIT:
        pthread_mutex_lock(&cond_mutex);
        pthread_cleanup_push(cleanup_unlock, v);
        sem_post(&v->ready);
        if (v->kind == K_COND_WAIT) {
            pthread_cond_wait(&cond, &cond_mutex);
        } else {
            struct timespec dl = deadline(CLOCK_REALTIME, 10000);
            pthread_cond_timedwait(&cond, &cond_mutex, &dl);
        }
        pthread_cleanup_pop(1);
        return;
    case K_JOIN:
        pthread_join(join_target, NULL);
        break;
    case K_SEM_WAIT:
        sem_wait(&never_posted);
        break;
    case K_COUNT:
        break;
    }
}

static void *victim_thread(void *arg)
{
    struct victim *v = arg;
    pthread_setspecific(log_key, v);
    pthread_cleanup_push(cleanup_a, v);
    pthread_cleanup_push(cleanup_b, v);
    if (v->kind != K_COND_WAIT && v->kind != K_COND_TIMEDWAIT)
        sem_post(&v->ready);
    block(v);
    v->returned = 1;
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(0);
    return (void *)1;
}

static void cancel_blocked(enum kind k)
{
    static struct victim v;
    pthread_t t;
    void *ret = NULL;

    say("== cancel a thread blocked in %s", kind_call[k]);
    memset(&v, 0, sizeof v);
    v.kind = k;
    v.unlock_rc = -1;
    REQUIRE(sem_init(&v.ready, 0, 0) == 0);
    if (k == K_READ)
        REQUIRE(pipe(fds) == 0);
    if (k == K_RECV)
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    if (k == K_JOIN)
        CALL_ERRNUM(pthread_create(&join_target, NULL, target_thread, NULL));
    double t0 = mono_now();
    CALL_ERRNUM(pthread_create(&t, NULL, victim_thread, &v));
    CALL(sem_wait(&v.ready));
    /* In its blocking call by now; if not, deferred cancellation acts when it gets there. */
    CALL(usleep(50000));
    CALL_ERRNUM(pthread_cancel(t));
    CALL_ERRNUM(pthread_join(t, &ret));
    say("  joined PTHREAD_CANCELED: %s", yesno(ret == PTHREAD_CANCELED));
    say("  the blocking call returned: %s", yesno(v.returned));
    say("  cleanup handlers, then key destructors, in order: \"%s\"", v.log);
    say("  well before 10 s: %s", yesno(mono_now() - t0 < 5));
    if (k == K_COND_WAIT || k == K_COND_TIMEDWAIT) {
        show_rc("  cleanup: pthread_mutex_unlock(&cond_mutex) (held again after cancellation)",
                v.unlock_rc);
        CALL_ERRNUM(pthread_mutex_trylock(&cond_mutex));
        CALL_ERRNUM(pthread_cond_signal(&cond));
        CALL_ERRNUM(pthread_mutex_unlock(&cond_mutex));
    }
    if (k == K_READ || k == K_RECV) {
        char c = 0;
        CALL(write(fds[1], "k", 1));
        CALL(read(fds[0], &c, dyn(1)));
        show_bytes("read", &c, 1);
        close(fds[0]);
        close(fds[1]);
    }
    if (k == K_JOIN) {
        /* A cancelled join leaves its target joinable. */
        CALL(sem_post(&target_go));
        CALL_ERRNUM(pthread_join(join_target, &ret));
        say("  target returned %ld", (long)ret);
    }
    CALL(sem_destroy(&v.ready));
}

/* ---- cancelled before its first cancellation point ---- */

static int early_before, early_after;

static void *early_thread(void *arg)
{
    (void)arg;
    early_before = 1; /* no cancellation point above: this runs whatever main does */
    usleep(100000);
    early_after = 1;
    return NULL;
}

static void cancel_early(void)
{
    pthread_t t;
    void *ret = NULL;
    say("== cancel a thread right after creating it");
    CALL_ERRNUM(pthread_create(&t, NULL, early_thread, NULL));
    CALL_ERRNUM(pthread_cancel(t));
    CALL_ERRNUM(pthread_join(t, &ret));
    say("  joined PTHREAD_CANCELED: %s", yesno(ret == PTHREAD_CANCELED));
    say("  ran up to its first cancellation point: %s; past it: %s", yesno(early_before),
        yesno(early_after));
}

/* ---- cancel state and type ---- */

struct state_report {
    int disable_rc, old_state_was_enable;
    int sleep_rc;         /* usleep with cancellation disabled and a request pending */
    int semwait_rc;
    int enable_rc, old_state_was_disable;
    int after_enable;     /* still running after re-enabling: requests act at a cancel point */
    int after_testcancel; /* must stay 0 */
    int cleanup_ran;
};
static struct state_report sr;
static sem_t sr_ready, sr_go;

static void sr_cleanup(void *arg)
{
    (void)arg;
    sr.cleanup_ran++;
}

static void *state_thread(void *arg)
{
    (void)arg;
    int old = -1;
    sr.disable_rc = pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    sr.old_state_was_enable = old == PTHREAD_CANCEL_ENABLE;
    pthread_cleanup_push(sr_cleanup, NULL);
    sem_post(&sr_ready);
    sr.semwait_rc = sem_wait(&sr_go) == 0 ? 0 : errno; /* main cancels, then posts */
    sr.sleep_rc = usleep(20000) == 0 ? 0 : errno;
    sr.enable_rc = pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    sr.old_state_was_disable = old == PTHREAD_CANCEL_DISABLE;
    sr.after_enable = 1;
    pthread_testcancel();
    sr.after_testcancel = 1;
    pthread_cleanup_pop(0);
    return NULL;
}

static void cancel_state(void)
{
    pthread_t t;
    void *ret = NULL;
    say("== a request made while cancellation is disabled waits for pthread_testcancel");
    CALL(sem_init(&sr_ready, 0, 0));
    CALL(sem_init(&sr_go, 0, 0));
    CALL_ERRNUM(pthread_create(&t, NULL, state_thread, NULL));
    CALL(sem_wait(&sr_ready));
    CALL_ERRNUM(pthread_cancel(t));
    CALL(sem_post(&sr_go));
    CALL_ERRNUM(pthread_join(t, &ret));
    say("  joined PTHREAD_CANCELED: %s", yesno(ret == PTHREAD_CANCELED));
    show_rc("  thread: pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old)", sr.disable_rc);
    say("  thread: old state was PTHREAD_CANCEL_ENABLE: %s", yesno(sr.old_state_was_enable));
    show_rc("  thread: sem_wait, with a request pending", sr.semwait_rc);
    show_rc("  thread: usleep(20000), with a request pending", sr.sleep_rc);
    show_rc("  thread: pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old)", sr.enable_rc);
    say("  thread: old state was PTHREAD_CANCEL_DISABLE: %s", yesno(sr.old_state_was_disable));
    say("  thread: still running after enabling: %s; after pthread_testcancel: %s",
        yesno(sr.after_enable), yesno(sr.after_testcancel));
    say("  cleanup handler ran %d time(s)", sr.cleanup_ran);

    say("== state and type values");
    int old = -1;
    CALL_ERRNUM(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old));
    say("  old type was PTHREAD_CANCEL_DEFERRED: %s", yesno(old == PTHREAD_CANCEL_DEFERRED));
    CALL_ERRNUM(pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &old));
    say("  old type was PTHREAD_CANCEL_ASYNCHRONOUS: %s", yesno(old == PTHREAD_CANCEL_ASYNCHRONOUS));
    CALL_ERRNUM(pthread_setcanceltype(99, &old));
    CALL_ERRNUM(pthread_setcancelstate(99, &old));
    CALL_ERRNUM(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL));
    CALL_ERRNUM(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old));
    say("  old state was PTHREAD_CANCEL_DISABLE: %s", yesno(old == PTHREAD_CANCEL_DISABLE));
    CALL_ERRNUM(pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, NULL));
    pthread_testcancel(); /* no request: returns */
    say("pthread_testcancel() without a request returned");
}

/* ---- self-cancel, pop(1), pthread_exit ---- */

static char order_log[16];
static int order_n, self_after_cancel, self_after_testcancel, self_cancel_rc;

static void order_append(void *arg)
{
    if (order_n < (int)sizeof order_log - 1)
        order_log[order_n++] = *(const char *)arg;
}

static void *self_canceller(void *arg)
{
    (void)arg;
    pthread_cleanup_push(order_append, "S");
    self_cancel_rc = pthread_cancel(pthread_self());
    self_after_cancel = 1; /* pthread_cancel is not a cancellation point */
    pthread_testcancel();
    self_after_testcancel = 1;
    pthread_cleanup_pop(0);
    return NULL;
}

static void leave(long v)
{
    pthread_exit((void *)v);
}

static void *exiter(void *arg)
{
    (void)arg;
    pthread_cleanup_push(order_append, "A");
    pthread_cleanup_push(order_append, "B");
    pthread_cleanup_push(order_append, "C");
    pthread_cleanup_pop(1); /* runs C */
    pthread_cleanup_pop(0); /* drops B */
    leave(5);               /* runs A */
    pthread_cleanup_pop(0);
    return NULL;
}

static void *returns_7(void *arg)
{
    sem_post(arg); /* not a cancellation point, and none follows */
    return (void *)7;
}

static void handlers(void)
{
    pthread_t t;
    void *ret = NULL;

    say("== a thread cancels itself");
    order_n = 0;
    memset(order_log, 0, sizeof order_log);
    CALL_ERRNUM(pthread_create(&t, NULL, self_canceller, NULL));
    CALL_ERRNUM(pthread_join(t, &ret));
    show_rc("  thread: pthread_cancel(pthread_self())", self_cancel_rc);
    say("  joined PTHREAD_CANCELED: %s", yesno(ret == PTHREAD_CANCELED));
    say("  went on after pthread_cancel: %s; after pthread_testcancel: %s",
        yesno(self_after_cancel), yesno(self_after_testcancel));
    say("  handlers run: \"%s\"", order_log);

    say("== pthread_cleanup_pop(1), pthread_cleanup_pop(0), then pthread_exit(5)");
    order_n = 0;
    memset(order_log, 0, sizeof order_log);
    CALL_ERRNUM(pthread_create(&t, NULL, exiter, NULL));
    CALL_ERRNUM(pthread_join(t, &ret));
    say("  joined %ld", (long)ret);
    say("  handlers run: \"%s\"", order_log);

    say("== cancel a thread that has already returned");
    sem_t returned;
    CALL(sem_init(&returned, 0, 0));
    CALL_ERRNUM(pthread_create(&t, NULL, returns_7, &returned));
    CALL(sem_wait(&returned));
    CALL(usleep(20000));
    CALL_ERRNUM(pthread_cancel(t));
    CALL_ERRNUM(pthread_join(t, &ret));
    say("  joined %s", ret == PTHREAD_CANCELED ? "PTHREAD_CANCELED" : ret == (void *)7 ? "7" : "?");
    CALL(sem_destroy(&returned));
}

/* ---- pthread_once whose routine is cancelled ---- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_started, once_finished, second_routine_runs;
static int once_pipe[2];
static sem_t once_ready;

static void blocking_routine(void)
{
    char c;
    once_started++;
    sem_post(&once_ready);
    ssize_t n = read(once_pipe[0], &c, dyn(1)); /* cancelled here */
    (void)n;
    once_finished++;
}

static void second_routine(void)
{
    second_routine_runs++;
}

static void *once_caller(void *arg)
{
    (void)arg;
    pthread_once(&once, blocking_routine);
    return NULL;
}

static void once_cancelled(void)
{
    pthread_t t;
    void *ret = NULL;
    say("== a pthread_once routine cancelled in read");
    CALL(pipe(once_pipe));
    CALL(sem_init(&once_ready, 0, 0));
    CALL_ERRNUM(pthread_create(&t, NULL, once_caller, NULL));
    CALL(sem_wait(&once_ready));
    CALL(usleep(50000));
    CALL_ERRNUM(pthread_cancel(t));
    CALL_ERRNUM(pthread_join(t, &ret));
    say("  joined PTHREAD_CANCELED: %s", yesno(ret == PTHREAD_CANCELED));
    say("  routine started %d time(s), finished %d time(s)", once_started, once_finished);
    /* POSIX: as if pthread_once had never been called; the next caller runs its routine. */
    CALL_ERRNUM(pthread_once(&once, second_routine));
    CALL_ERRNUM(pthread_once(&once, second_routine));
    say("  second routine ran %d time(s)", second_routine_runs);
    close(once_pipe[0]);
    close(once_pipe[1]);
    CALL(sem_destroy(&once_ready));
}

/* ---- a detached thread cancelled in a sleep ---- */

static sem_t detached_ready, detached_cleaned;

static void detached_cleanup(void *arg)
{
    (void)arg;
    sem_post(&detached_cleaned);
}

static void *detached_sleeper(void *arg)
{
    (void)arg;
    pthread_cleanup_push(detached_cleanup, NULL);
    sem_post(&detached_ready);
    sleep(10);
    pthread_cleanup_pop(0);
    return NULL;
}

static void cancel_detached(void)
{
    pthread_t t;
    pthread_attr_t a;
    say("== cancel a detached thread in sleep(10)");
    CALL(sem_init(&detached_ready, 0, 0));
    CALL(sem_init(&detached_cleaned, 0, 0));
    CALL_ERRNUM(pthread_attr_init(&a));
    CALL_ERRNUM(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED));
    double t0 = mono_now();
    CALL_ERRNUM(pthread_create(&t, &a, detached_sleeper, NULL));
    CALL_ERRNUM(pthread_attr_destroy(&a));
    CALL(sem_wait(&detached_ready));
    CALL(usleep(50000));
    CALL_ERRNUM(pthread_cancel(t));
    CALL(sem_wait(&detached_cleaned)); /* its cleanup handler ran */
    say("  well before 10 s: %s", yesno(mono_now() - t0 < 5));
}

int main(void)
{
    pthread_mutexattr_t ma;
    REQUIRE(pthread_mutexattr_init(&ma) == 0);
    REQUIRE(pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK) == 0);
    REQUIRE(pthread_mutex_init(&cond_mutex, &ma) == 0);
    REQUIRE(sem_init(&never_posted, 0, 0) == 0);
    REQUIRE(sem_init(&target_go, 0, 0) == 0);
    CALL_ERRNUM(pthread_key_create(&log_key, destructor_d));

    for (int k = 0; k < K_COUNT; k++)
        cancel_blocked((enum kind)k);
    cancel_early();
    cancel_state();
    handlers();
    once_cancelled();
    cancel_detached();
    CALL_ERRNUM(pthread_cond_destroy(&cond));
    CALL_ERRNUM(pthread_mutex_destroy(&cond_mutex));
    return 0;
}
