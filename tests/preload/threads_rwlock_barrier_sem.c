/* Threads, more synchronisation: a rwlock shared by 8 readers and 2 writers (the invariant
 * it protects is checked under the lock), tryrdlock/trywrlock/timedwrlock; a barrier of 8
 * threads over 100 rounds; unnamed and named semaphores; a spinlock whose holder sometimes
 * sleeps while holding it (under green threads the spinning waiters must not starve the
 * holder). Threads record what they saw; main prints it after joining. */
#include "transcript.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <unistd.h>

/* ---- rwlock ---- */

enum { READERS = 8, WRITERS = 2, READS = 5000, WRITES = 2000 };

static pthread_rwlock_t rw;
static struct {
    long a, b;
} shared;
static int readers_in, writers_in; /* atomics */
static long reader_bad[READERS], writer_bad[WRITERS];
static int reader_rc[READERS], writer_rc[WRITERS];

static void *reader(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < READS; i++) {
        reader_rc[id] |= pthread_rwlock_rdlock(&rw);
        __atomic_fetch_add(&readers_in, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&writers_in, __ATOMIC_SEQ_CST) != 0 || shared.a != shared.b)
            reader_bad[id]++;
        if (i % 1000 == 0)
            usleep(100); /* several readers hold the lock at once, and park */
        __atomic_fetch_sub(&readers_in, 1, __ATOMIC_SEQ_CST);
        reader_rc[id] |= pthread_rwlock_unlock(&rw);
    }
    return NULL;
}

static void *writer(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < WRITES; i++) {
        writer_rc[id] |= pthread_rwlock_wrlock(&rw);
        if (__atomic_fetch_add(&writers_in, 1, __ATOMIC_SEQ_CST) != 0 ||
            __atomic_load_n(&readers_in, __ATOMIC_SEQ_CST) != 0 || shared.a != shared.b)
            writer_bad[id]++;
        shared.a++;
        if (i % 500 == 0)
            usleep(100);
        else if (i % 7 == 0)
            sched_yield();
        shared.b++;
        __atomic_fetch_sub(&writers_in, 1, __ATOMIC_SEQ_CST);
        writer_rc[id] |= pthread_rwlock_unlock(&rw);
    }
    return NULL;
}

static int try_rc[3];

static void *rw_try_thread(void *arg)
{
    long which = (long)arg;
    if (which == 0) {
        try_rc[0] = pthread_rwlock_tryrdlock(&rw);
    } else {
        try_rc[1] = pthread_rwlock_trywrlock(&rw);
        struct timespec dl = deadline(CLOCK_REALTIME, 100);
        double t0 = mono_now();
        try_rc[2] = pthread_rwlock_timedwrlock(&rw, &dl);
        try_rc[2] |= (mono_now() - t0 >= 0.09) ? 0 : 0x10000;
    }
    return NULL;
}

static void rwlock_test(void)
{
    say("== rwlock: %d readers, %d writers", READERS, WRITERS);
    CALL_ERRNUM(pthread_rwlock_init(&rw, NULL));
    pthread_t r[READERS], w[WRITERS];
    int crc = 0, jrc = 0;
    for (long i = 0; i < READERS; i++)
        crc |= pthread_create(&r[i], NULL, reader, (void *)i);
    for (long i = 0; i < WRITERS; i++)
        crc |= pthread_create(&w[i], NULL, writer, (void *)i);
    for (int i = 0; i < READERS; i++)
        jrc |= pthread_join(r[i], NULL);
    for (int i = 0; i < WRITERS; i++)
        jrc |= pthread_join(w[i], NULL);
    show_rc("pthread_create (all)", crc);
    show_rc("pthread_join (all)", jrc);
    long bad = 0;
    int rc = 0;
    for (int i = 0; i < READERS; i++) {
        bad += reader_bad[i];
        rc |= reader_rc[i];
    }
    show_rc("readers' rdlock/unlock (all)", rc);
    say("readers saw a writer inside or a broken invariant: %ld times", bad);
    bad = 0;
    rc = 0;
    for (int i = 0; i < WRITERS; i++) {
        bad += writer_bad[i];
        rc |= writer_rc[i];
    }
    show_rc("writers' wrlock/unlock (all)", rc);
    say("writers saw anyone else inside or a broken invariant: %ld times", bad);
    say("a = %ld, b = %ld", shared.a, shared.b);

    say("== rwlock try/timed, from another thread");
    pthread_t t;
    CALL_ERRNUM(pthread_rwlock_wrlock(&rw));
    CALL_ERRNUM(pthread_create(&t, NULL, rw_try_thread, (void *)0));
    CALL_ERRNUM(pthread_join(t, NULL));
    show_rc("other thread, main holds it for writing: pthread_rwlock_tryrdlock(&rw)", try_rc[0]);
    CALL_ERRNUM(pthread_rwlock_unlock(&rw));
    CALL_ERRNUM(pthread_rwlock_rdlock(&rw));
    CALL_ERRNUM(pthread_create(&t, NULL, rw_try_thread, (void *)1));
    CALL_ERRNUM(pthread_join(t, NULL));
    show_rc("other thread, main holds it for reading: pthread_rwlock_trywrlock(&rw)", try_rc[1]);
    show_rc("other thread, main holds it for reading: pthread_rwlock_timedwrlock(&rw, +100 ms)",
            try_rc[2] & 0xffff);
    say("  waited >= 90 ms: %s", yesno(!(try_rc[2] & 0x10000)));
    CALL_ERRNUM(pthread_rwlock_unlock(&rw));
    struct timespec dl = deadline(CLOCK_REALTIME, 100);
    CALL_ERRNUM(pthread_rwlock_timedwrlock(&rw, &dl));
    CALL_ERRNUM(pthread_rwlock_unlock(&rw));
    CALL_ERRNUM(pthread_rwlock_destroy(&rw));
}

/* ---- barrier ---- */

enum { BTHREADS = 8, ROUNDS = 100 };

static pthread_barrier_t barrier;
static int arrived[ROUNDS];
static int serial_in_round[ROUNDS];
static int barrier_other_rc[BTHREADS]; /* anything but 0 and SERIAL */
static int barrier_early[BTHREADS];    /* left the barrier before all had arrived */

static void *barrier_thread(void *arg)
{
    long id = (long)arg;
    for (int r = 0; r < ROUNDS; r++) {
        __atomic_fetch_add(&arrived[r], 1, __ATOMIC_SEQ_CST);
        if (r % 25 == (int)id)
            usleep(200);
        int rc = pthread_barrier_wait(&barrier);
        if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
            __atomic_fetch_add(&serial_in_round[r], 1, __ATOMIC_SEQ_CST);
        else if (rc != 0)
            barrier_other_rc[id] = rc;
        if (__atomic_load_n(&arrived[r], __ATOMIC_SEQ_CST) != BTHREADS)
            barrier_early[id]++;
    }
    return NULL;
}

static void barrier_test(void)
{
    say("== barrier: %d threads, %d rounds", BTHREADS, ROUNDS);
    CALL_ERRNUM(pthread_barrier_init(&barrier, NULL, 0));
    CALL_ERRNUM(pthread_barrier_init(&barrier, NULL, BTHREADS));
    pthread_t t[BTHREADS];
    int crc = 0, jrc = 0;
    for (long i = 0; i < BTHREADS; i++)
        crc |= pthread_create(&t[i], NULL, barrier_thread, (void *)i);
    for (int i = 0; i < BTHREADS; i++)
        jrc |= pthread_join(t[i], NULL);
    show_rc("pthread_create (all)", crc);
    show_rc("pthread_join (all)", jrc);
    int rounds_one_serial = 0, other = 0, early = 0;
    for (int r = 0; r < ROUNDS; r++)
        rounds_one_serial += serial_in_round[r] == 1;
    for (int i = 0; i < BTHREADS; i++) {
        other |= barrier_other_rc[i];
        early += barrier_early[i];
    }
    say("rounds with exactly one PTHREAD_BARRIER_SERIAL_THREAD: %d", rounds_one_serial);
    say("other return values: %d", other);
    say("threads that left a round before all had arrived: %d", early);
    CALL_ERRNUM(pthread_barrier_destroy(&barrier));
}

/* ---- semaphores ---- */

static sem_t ping, pong;
static int sem_rc[2];

static void *sem_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        sem_rc[0] |= sem_wait(&ping);
        if (i % 250 == 0)
            usleep(100);
        sem_rc[1] |= sem_post(&pong);
    }
    return NULL;
}

static sem_t *named;
static int named_rc;

static void *named_poster(void *arg)
{
    (void)arg;
    usleep(20000);
    named_rc = sem_post(named);
    return NULL;
}

static void sem_test(void)
{
    say("== unnamed semaphore");
    sem_t s;
    int v = -1;
    CALL(sem_init(&s, 0, 2));
    CALL(sem_getvalue(&s, &v));
    say("  value %d", v);
    CALL(sem_wait(&s));
    CALL(sem_trywait(&s));
    CALL(sem_trywait(&s));
    struct timespec dl = deadline(CLOCK_REALTIME, 100);
    double t0 = mono_now();
    CALL(sem_timedwait(&s, &dl));
    say("  waited >= 90 ms: %s", yesno(mono_now() - t0 >= 0.09));
    dl = deadline(CLOCK_MONOTONIC, 100);
    t0 = mono_now();
    CALL(sem_clockwait(&s, CLOCK_MONOTONIC, &dl));
    say("  waited >= 90 ms: %s", yesno(mono_now() - t0 >= 0.09));
    dl.tv_nsec = 1000000000L;
    CALL(sem_timedwait(&s, &dl));
    CALL(sem_post(&s));
    CALL(sem_post(&s));
    CALL(sem_getvalue(&s, &v));
    say("  value %d", v);
    dl = deadline(CLOCK_REALTIME, 100);
    CALL(sem_timedwait(&s, &dl));
    CALL(sem_destroy(&s));

    say("== semaphore ping-pong with another thread, 1000 rounds");
    CALL(sem_init(&ping, 0, 0));
    CALL(sem_init(&pong, 0, 0));
    pthread_t t;
    CALL_ERRNUM(pthread_create(&t, NULL, sem_thread, NULL));
    int rc = 0;
    for (int i = 0; i < 1000; i++) {
        rc |= sem_post(&ping);
        rc |= sem_wait(&pong);
    }
    CALL_ERRNUM(pthread_join(t, NULL));
    say("main's posts and waits all 0: %s", yesno(rc == 0));
    say("thread's waits all 0: %s, posts all 0: %s", yesno(sem_rc[0] == 0), yesno(sem_rc[1] == 0));
    CALL(sem_getvalue(&ping, &v));
    say("  ping value %d", v);
    CALL(sem_getvalue(&pong, &v));
    say("  pong value %d", v);
    CALL(sem_destroy(&ping));
    CALL(sem_destroy(&pong));

    say("== named semaphore");
    char name[64];
    snprintf(name, sizeof name, "/libgreen-threads-test-%ld", (long)getpid());
    named = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
    say("sem_open(name, O_CREAT | O_EXCL, 0600, 0) succeeded: %s", yesno(named != SEM_FAILED));
    REQUIRE(named != SEM_FAILED);
    errno = 0;
    sem_t *again = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
    say("sem_open(name, O_CREAT | O_EXCL, 0600, 0) again: %s %s",
        again == SEM_FAILED ? "SEM_FAILED" : "a semaphore", errno_name(errno));
    sem_t *same = sem_open(name, 0);
    say("sem_open(name, 0) succeeded: %s", yesno(same != SEM_FAILED));
    CALL_ERRNUM(pthread_create(&t, NULL, named_poster, NULL));
    CALL(sem_trywait(named));
    CALL(sem_wait(named)); /* blocks until the thread posts */
    CALL_ERRNUM(pthread_join(t, NULL));
    show_rc("thread: sem_post(named)", named_rc);
    CALL(sem_post(same));
    CALL(sem_getvalue(named, &v));
    say("  value %d", v);
    dl = deadline(CLOCK_REALTIME, 100);
    CALL(sem_timedwait(named, &dl));
    dl = deadline(CLOCK_REALTIME, 100);
    CALL(sem_timedwait(named, &dl));
    CALL(sem_close(same));
    CALL(sem_close(named));
    CALL(sem_unlink(name));
    CALL(sem_unlink(name));
    errno = 0;
    again = sem_open(name, 0);
    say("sem_open(name, 0) after unlink: %s %s", again == SEM_FAILED ? "SEM_FAILED" : "a semaphore",
        errno_name(errno));
}

/* ---- spinlock held across a sleep ---- */

enum { SPINNERS = 4, SPINS = 1000 };

static pthread_spinlock_t spin;
static long spin_counter;
static int spin_rc[SPINNERS];
static int spin_inside;
static int spin_overlap;

static void *spinner(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < SPINS; i++) {
        spin_rc[id] |= pthread_spin_lock(&spin);
        if (__atomic_fetch_add(&spin_inside, 1, __ATOMIC_SEQ_CST) != 0)
            __atomic_fetch_add(&spin_overlap, 1, __ATOMIC_SEQ_CST);
        long c = spin_counter;
        if (i % 100 == (int)id * 10)
            usleep(100); /* sleeps while holding the spinlock */
        spin_counter = c + 1;
        __atomic_fetch_sub(&spin_inside, 1, __ATOMIC_SEQ_CST);
        spin_rc[id] |= pthread_spin_unlock(&spin);
    }
    return NULL;
}

static void spin_test(void)
{
    say("== spinlock: %d threads x %d increments, the holder sometimes sleeps", SPINNERS, SPINS);
    CALL_ERRNUM(pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE));
    CALL_ERRNUM(pthread_spin_lock(&spin));
    CALL_ERRNUM(pthread_spin_trylock(&spin));
    CALL_ERRNUM(pthread_spin_unlock(&spin));
    CALL_ERRNUM(pthread_spin_trylock(&spin));
    CALL_ERRNUM(pthread_spin_unlock(&spin));
    pthread_t t[SPINNERS];
    int crc = 0, jrc = 0, rc = 0;
    for (long i = 0; i < SPINNERS; i++)
        crc |= pthread_create(&t[i], NULL, spinner, (void *)i);
    for (int i = 0; i < SPINNERS; i++)
        jrc |= pthread_join(t[i], NULL);
    for (int i = 0; i < SPINNERS; i++)
        rc |= spin_rc[i];
    show_rc("pthread_create (all)", crc);
    show_rc("pthread_join (all)", jrc);
    show_rc("pthread_spin_lock/unlock (all)", rc);
    say("counter = %ld (expected %d), overlaps: %d", spin_counter, SPINNERS * SPINS, spin_overlap);
    CALL_ERRNUM(pthread_spin_destroy(&spin));
}

int main(void)
{
    CALL(usleep(1000)); /* parks */
    rwlock_test();
    barrier_test();
    sem_test();
    spin_test();
    return 0;
}
