/* Threads, synchronisation: a bounded queue (mutex + two condvars) between 4 producers and
 * 4 consumers; recursive, error-checking and normal mutexes and their error codes; trylock,
 * timedlock, cond_timedwait on a CLOCK_MONOTONIC condvar, cond_clockwait; the static
 * initialisers used as they are. Threads record what they saw; main prints it after joining,
 * so the transcript never depends on the order in which threads ran. */
#include "transcript.h"

#include <pthread.h>
#include <unistd.h>

/* ---- bounded queue ---- */

enum { PRODUCERS = 4, CONSUMERS = 4, ITEMS = 10000, QCAP = 16 };

static struct {
    pthread_mutex_t mu;
    pthread_cond_t not_full, not_empty;
    long buf[QCAP];
    int head, len;
    int producers_left;
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0,
       PRODUCERS};

static long consumed_count[CONSUMERS];
static long long consumed_sum[CONSUMERS];
static int seen[PRODUCERS * ITEMS + 1];
static int producer_rc[PRODUCERS];

static void *producer(void *arg)
{
    long id = (long)arg;
    int rc = 0;
    for (long i = 0; i < ITEMS; i++) {
        rc |= pthread_mutex_lock(&q.mu);
        while (q.len == QCAP)
            rc |= pthread_cond_wait(&q.not_full, &q.mu);
        q.buf[(q.head + q.len) % QCAP] = id * ITEMS + i + 1;
        q.len++;
        rc |= pthread_cond_signal(&q.not_empty);
        rc |= pthread_mutex_unlock(&q.mu);
        if (i % 2500 == 0)
            usleep(200); /* parks now and then */
    }
    pthread_mutex_lock(&q.mu);
    if (--q.producers_left == 0)
        pthread_cond_broadcast(&q.not_empty);
    pthread_mutex_unlock(&q.mu);
    producer_rc[id] = rc;
    return NULL;
}

static void *consumer(void *arg)
{
    long id = (long)arg;
    for (;;) {
        pthread_mutex_lock(&q.mu);
        while (q.len == 0 && q.producers_left > 0)
            pthread_cond_wait(&q.not_empty, &q.mu);
        if (q.len == 0) {
            pthread_mutex_unlock(&q.mu);
            break;
        }
        long v = q.buf[q.head];
        q.head = (q.head + 1) % QCAP;
        q.len--;
        pthread_cond_signal(&q.not_full);
        pthread_mutex_unlock(&q.mu);
        if (v >= 1 && v <= PRODUCERS * ITEMS)
            __atomic_fetch_add(&seen[v], 1, __ATOMIC_RELAXED);
        consumed_count[id]++;
        consumed_sum[id] += v;
    }
    return NULL;
}

static void queue_test(void)
{
    say("== bounded queue: %d producers x %d consumers x %d items", PRODUCERS, CONSUMERS, ITEMS);
    pthread_t p[PRODUCERS], c[CONSUMERS];
    int create_rc = 0, join_rc = 0;
    for (long i = 0; i < CONSUMERS; i++)
        create_rc |= pthread_create(&c[i], NULL, consumer, (void *)i);
    for (long i = 0; i < PRODUCERS; i++)
        create_rc |= pthread_create(&p[i], NULL, producer, (void *)i);
    for (int i = 0; i < PRODUCERS; i++)
        join_rc |= pthread_join(p[i], NULL);
    for (int i = 0; i < CONSUMERS; i++)
        join_rc |= pthread_join(c[i], NULL);
    show_rc("pthread_create (all)", create_rc);
    show_rc("pthread_join (all)", join_rc);
    int prc = 0;
    for (int i = 0; i < PRODUCERS; i++)
        prc |= producer_rc[i];
    show_rc("producers' lock/wait/signal/unlock (all)", prc);
    long count = 0;
    long long sum = 0;
    for (int i = 0; i < CONSUMERS; i++) {
        count += consumed_count[i];
        sum += consumed_sum[i];
    }
    long long n = (long long)PRODUCERS * ITEMS;
    int once = 1;
    for (long v = 1; v <= n; v++)
        if (seen[v] != 1)
            once = 0;
    say("consumed: %ld items, sum %lld (expected %lld, %lld)", count, sum, n, n * (n + 1) / 2);
    say("every item consumed exactly once: %s", yesno(once));
    say("queue empty at the end: %s", yesno(q.len == 0));
}

/* ---- mutex kinds ---- */

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t errchk;
static int other_rc[4];

static void *other_thread(void *arg)
{
    (void)arg;
    other_rc[0] = pthread_mutex_trylock(&held);
    struct timespec dl = deadline(CLOCK_REALTIME, 100);
    double t0 = mono_now();
    other_rc[1] = pthread_mutex_timedlock(&held, &dl);
    other_rc[2] = mono_now() - t0 >= 0.09;
    other_rc[3] = pthread_mutex_unlock(&errchk);
    return NULL;
}

static void mutex_kinds(void)
{
    say("== recursive mutex");
    pthread_mutexattr_t ma;
    pthread_mutex_t rec;
    CALL_ERRNUM(pthread_mutexattr_init(&ma));
    CALL_ERRNUM(pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE));
    CALL_ERRNUM(pthread_mutex_init(&rec, &ma));
    CALL_ERRNUM(pthread_mutex_lock(&rec));
    CALL_ERRNUM(pthread_mutex_lock(&rec));
    CALL_ERRNUM(pthread_mutex_trylock(&rec));
    CALL_ERRNUM(pthread_mutex_unlock(&rec));
    CALL_ERRNUM(pthread_mutex_unlock(&rec));
    CALL_ERRNUM(pthread_mutex_unlock(&rec));
    CALL_ERRNUM(pthread_mutex_unlock(&rec));
    CALL_ERRNUM(pthread_mutex_destroy(&rec));

    say("== error-checking mutex, and a normal one held by main");
    CALL_ERRNUM(pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK));
    CALL_ERRNUM(pthread_mutex_init(&errchk, &ma));
    CALL_ERRNUM(pthread_mutexattr_destroy(&ma));
    CALL_ERRNUM(pthread_mutex_lock(&errchk));
    CALL_ERRNUM(pthread_mutex_lock(&errchk));
    CALL_ERRNUM(pthread_mutex_lock(&held));
    pthread_t t;
    CALL_ERRNUM(pthread_create(&t, NULL, other_thread, NULL));
    CALL_ERRNUM(pthread_join(t, NULL));
    show_rc("other thread: pthread_mutex_trylock(&held)", other_rc[0]);
    show_rc("other thread: pthread_mutex_timedlock(&held, +100 ms)", other_rc[1]);
    say("other thread: timedlock waited >= 90 ms: %s", yesno(other_rc[2]));
    show_rc("other thread: pthread_mutex_unlock(&errchk)", other_rc[3]);
    CALL_ERRNUM(pthread_mutex_unlock(&held));
    CALL_ERRNUM(pthread_mutex_unlock(&errchk));
    CALL_ERRNUM(pthread_mutex_unlock(&errchk));
    CALL_ERRNUM(pthread_mutex_destroy(&errchk));
    struct timespec dl = deadline(CLOCK_REALTIME, 50);
    CALL_ERRNUM(pthread_mutex_timedlock(&held, &dl));
    CALL_ERRNUM(pthread_mutex_unlock(&held));
}

/* ---- condvar timeouts ---- */

static void cond_timeouts(void)
{
    say("== pthread_cond_timedwait on a CLOCK_MONOTONIC condvar");
    pthread_condattr_t ca;
    pthread_cond_t cv;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    clockid_t clk = -1;
    CALL_ERRNUM(pthread_condattr_init(&ca));
    CALL_ERRNUM(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC));
    CALL_ERRNUM(pthread_condattr_getclock(&ca, &clk));
    say("clock is CLOCK_MONOTONIC: %s", yesno(clk == CLOCK_MONOTONIC));
    CALL_ERRNUM(pthread_condattr_setclock(&ca, CLOCK_PROCESS_CPUTIME_ID));
    CALL_ERRNUM(pthread_cond_init(&cv, &ca));
    CALL_ERRNUM(pthread_condattr_destroy(&ca));
    CALL_ERRNUM(pthread_mutex_lock(&mu));
    struct timespec dl = deadline(CLOCK_MONOTONIC, 100);
    double t0 = mono_now();
    CALL_ERRNUM(pthread_cond_timedwait(&cv, &mu, &dl));
    say("  waited >= 90 ms: %s", yesno(mono_now() - t0 >= 0.09));
    /* the mutex is held again after a timeout */
    CALL_ERRNUM(pthread_mutex_trylock(&mu));
    dl = deadline(CLOCK_MONOTONIC, -1000); /* already past */
    CALL_ERRNUM(pthread_cond_timedwait(&cv, &mu, &dl));

    say("== pthread_cond_clockwait");
    dl = deadline(CLOCK_MONOTONIC, 100);
    t0 = mono_now();
    CALL_ERRNUM(pthread_cond_clockwait(&cv, &mu, CLOCK_MONOTONIC, &dl));
    say("  waited >= 90 ms: %s", yesno(mono_now() - t0 >= 0.09));
    dl = deadline(CLOCK_REALTIME, 100);
    t0 = mono_now();
    CALL_ERRNUM(pthread_cond_clockwait(&cv, &mu, CLOCK_REALTIME, &dl));
    say("  waited >= 90 ms: %s", yesno(mono_now() - t0 >= 0.09));
    dl = deadline(CLOCK_MONOTONIC, 100);
    CALL_ERRNUM(pthread_cond_clockwait(&cv, &mu, CLOCK_PROCESS_CPUTIME_ID, &dl));
    CALL_ERRNUM(pthread_mutex_unlock(&mu));
    CALL_ERRNUM(pthread_cond_destroy(&cv));
}

/* ---- static initialisers used directly ---- */

static pthread_mutex_t s_plain = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t s_rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t s_err = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static pthread_cond_t s_cond = PTHREAD_COND_INITIALIZER;
static pthread_rwlock_t s_rw = PTHREAD_RWLOCK_INITIALIZER;
static int s_flag;
static int s_waiter_rc[3];

static void *static_waiter(void *arg)
{
    (void)arg;
    s_waiter_rc[0] = pthread_mutex_lock(&s_plain);
    while (!s_flag)
        s_waiter_rc[1] |= pthread_cond_wait(&s_cond, &s_plain);
    s_flag = 2;
    s_waiter_rc[2] = pthread_mutex_unlock(&s_plain);
    return NULL;
}

static void statics(void)
{
    say("== static initialisers");
    CALL_ERRNUM(pthread_mutex_lock(&s_rec));
    CALL_ERRNUM(pthread_mutex_lock(&s_rec));
    CALL_ERRNUM(pthread_mutex_unlock(&s_rec));
    CALL_ERRNUM(pthread_mutex_unlock(&s_rec));
    CALL_ERRNUM(pthread_mutex_unlock(&s_rec));
    CALL_ERRNUM(pthread_mutex_lock(&s_err));
    CALL_ERRNUM(pthread_mutex_lock(&s_err));
    CALL_ERRNUM(pthread_mutex_unlock(&s_err));
    CALL_ERRNUM(pthread_mutex_unlock(&s_err));
    CALL_ERRNUM(pthread_rwlock_rdlock(&s_rw));
    CALL_ERRNUM(pthread_rwlock_rdlock(&s_rw));
    CALL_ERRNUM(pthread_rwlock_trywrlock(&s_rw));
    CALL_ERRNUM(pthread_rwlock_unlock(&s_rw));
    CALL_ERRNUM(pthread_rwlock_unlock(&s_rw));
    CALL_ERRNUM(pthread_rwlock_wrlock(&s_rw));
    CALL_ERRNUM(pthread_rwlock_tryrdlock(&s_rw));
    CALL_ERRNUM(pthread_rwlock_unlock(&s_rw));
    pthread_t t;
    CALL_ERRNUM(pthread_create(&t, NULL, static_waiter, NULL));
    CALL(usleep(20000)); /* the waiter is (most likely) in pthread_cond_wait by now */
    CALL_ERRNUM(pthread_mutex_lock(&s_plain));
    s_flag = 1;
    CALL_ERRNUM(pthread_cond_signal(&s_cond));
    CALL_ERRNUM(pthread_mutex_unlock(&s_plain));
    CALL_ERRNUM(pthread_join(t, NULL));
    show_rc("waiter: pthread_mutex_lock(&s_plain)", s_waiter_rc[0]);
    show_rc("waiter: pthread_cond_wait(&s_cond, &s_plain)", s_waiter_rc[1]);
    show_rc("waiter: pthread_mutex_unlock(&s_plain)", s_waiter_rc[2]);
    say("flag after join: %d", s_flag);
}

int main(void)
{
    CALL(usleep(1000)); /* parks */
    queue_test();
    mutex_kinds();
    cond_timeouts();
    statics();
    return 0;
}
