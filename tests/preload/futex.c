/* Raw futex calls through libc's syscall(): EAGAIN, ETIMEDOUT with relative and absolute
 * (monotonic, real-time) timeouts, the kernel's EINVAL/ENOSYS checks, wait and wake between
 * threads with wake counts, bitset matching, REQUEUE and CMP_REQUEUE, EINTR from a handler
 * with and without SA_RESTART, a wake from a thread glibc makes itself (a SIGEV_THREAD timer,
 * never a green thread) and a wake from another process on a MAP_SHARED word. Each part runs
 * with the private operations, then the shared ones on a MAP_SHARED word (bitsets left out)
 * and on a heap word.
 *
 * While a waiter waits, a ticker thread sleeps ten times; the waiter is woken only after the
 * ticker is done, so under libgreen (one hub thread) the transcript's "ticker ran: yes" means
 * the waiter parked instead of blocking its hub. Waiters are counted with a CMP_REQUEUE of the
 * word onto itself (it moves nobody and returns how many wait), so no part depends on timing. */
#include "transcript.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int pflag; /* FUTEX_PRIVATE_FLAG or 0: the part being run */
static const char *form;

static long futex(uint32_t *u, int op, uint32_t val, const void *t, uint32_t *u2, uint32_t v3)
{
    return syscall(SYS_futex, u, op | pflag, val, t, u2, v3);
}

static long waiting(uint32_t *u)
{
    return futex(u, FUTEX_CMP_REQUEUE, 0, (void *)(long)INT_MAX, u,
                 __atomic_load_n(u, __ATOMIC_SEQ_CST));
}

static void until_waiting(uint32_t *u, long n)
{
    for (int i = 0; waiting(u) != n; i++) {
        REQUIRE(i < 20000);
        usleep(500);
    }
}

static struct timespec ms(long n) { return (struct timespec){n / 1000, (n % 1000) * 1000000}; }

static struct timespec abs_after(clockid_t c, long msec)
{
    struct timespec t;
    clock_gettime(c, &t);
    t.tv_nsec += (msec % 1000) * 1000000;
    t.tv_sec += msec / 1000 + t.tv_nsec / 1000000000;
    t.tv_nsec %= 1000000000;
    return t;
}

/* The words: in a MAP_SHARED mapping (another process can wake them) or on the heap. */
static uint32_t *words;

/* ---- a waiter thread ---- */

struct waiter {
    pthread_t t;
    uint32_t *word;
    uint32_t val;
    int op;
    uint32_t bitset;
    const struct timespec *timeout;
    long r;
    int err;
    volatile int done;
};

static void *wait_main(void *arg)
{
    struct waiter *w = arg;
    errno = 0;
    w->r = futex(w->word, w->op, w->val, w->timeout, NULL, w->bitset);
    w->err = errno;
    __atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void start(struct waiter *w, uint32_t *word, int op, uint32_t bitset)
{
    memset(w, 0, sizeof *w);
    w->word = word;
    w->val = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    w->op = op;
    w->bitset = bitset;
    REQUIRE(pthread_create(&w->t, NULL, wait_main, w) == 0);
}

static void finish(const char *name, struct waiter *w)
{
    REQUIRE(pthread_join(w->t, NULL) == 0);
    if (w->r == -1)
        say("  %s returned -1 %s", name, errno_name(w->err));
    else
        say("  %s returned %ld", name, w->r);
}

/* ---- a ticker thread ---- */

static volatile int ticks;

static void *ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++) {
        usleep(5000);
        ticks = i + 1;
    }
    return NULL;
}

/* ---- the parts ---- */

static void errors(void)
{
    uint32_t *w = &words[0];
    struct timespec bad = {0, 1000000000L}, neg = {-1, 0}, t20 = ms(20);
    *w = 0;
    say("%s: errors", form);
    CALL(futex(w, FUTEX_WAIT, 1, NULL, NULL, 0));
    CALL(futex(w, FUTEX_WAIT_BITSET, 1, NULL, NULL, FUTEX_BITSET_MATCH_ANY));
    CALL(futex(w, FUTEX_WAIT, 0, &bad, NULL, 0));
    CALL(futex(w, FUTEX_WAIT, 0, &neg, NULL, 0));
    CALL(futex(w, FUTEX_WAIT_BITSET, 0, &t20, NULL, 0));
    CALL(futex(w, FUTEX_WAKE_BITSET, 1, NULL, NULL, 0));
    CALL(futex((uint32_t *)((char *)w + 1), FUTEX_WAIT, 0, NULL, NULL, 0));
    CALL(futex((uint32_t *)((char *)w + 2), FUTEX_WAKE, 1, NULL, NULL, 0));
    CALL(futex(w, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0));
    CALL(futex(w, 99, 0, NULL, NULL, 0));
    CALL(futex(w, FUTEX_CMP_REQUEUE, 0, (void *)(long)INT_MAX, &words[1], 1));
    CALL(futex(w, FUTEX_REQUEUE, (uint32_t)-1, NULL, &words[1], 0));
    CALL(futex(w, FUTEX_WAKE, 1, NULL, NULL, 0));
}

static void timeouts(void)
{
    uint32_t *w = &words[0];
    *w = 0;
    say("%s: timeouts", form);
    struct timespec rel = ms(30), zero = {0, 0};
    double t0 = mono_now();
    CALL(futex(w, FUTEX_WAIT, 0, &rel, NULL, 0));
    say("  relative 30 ms waited >= 30 ms: %s", yesno(mono_now() - t0 >= 0.029));
    CALL(futex(w, FUTEX_WAIT, 0, &zero, NULL, 0));
    struct timespec mono = abs_after(CLOCK_MONOTONIC, 30);
    t0 = mono_now();
    CALL(futex(w, FUTEX_WAIT_BITSET, 0, &mono, NULL, FUTEX_BITSET_MATCH_ANY));
    say("  absolute monotonic +30 ms waited >= 29 ms: %s", yesno(mono_now() - t0 >= 0.029));
    struct timespec real = abs_after(CLOCK_REALTIME, 30);
    t0 = mono_now();
    CALL(futex(w, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 0, &real, NULL, 1));
    say("  absolute real-time +30 ms waited >= 20 ms: %s", yesno(mono_now() - t0 >= 0.020));
    struct timespec past = {1, 0};
    CALL(futex(w, FUTEX_WAIT_BITSET, 0, &past, NULL, FUTEX_BITSET_MATCH_ANY));
    CALL(futex(w, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 0, &past, NULL, 1));
}

static void wait_and_wake(void)
{
    uint32_t *w = &words[0];
    struct waiter a, b, c;
    pthread_t tick;
    *w = 0;
    say("%s: wait and wake", form);
    CALL(futex(w, FUTEX_WAKE, 1, NULL, NULL, 0));
    ticks = 0;
    start(&a, w, FUTEX_WAIT, 0);
    until_waiting(w, 1);
    REQUIRE(pthread_create(&tick, NULL, ticker, NULL) == 0);
    REQUIRE(pthread_join(tick, NULL) == 0);
    say("  ticker ran while the waiter waited: %s", yesno(ticks == 10 && !a.done));
    __atomic_store_n(w, 1, __ATOMIC_SEQ_CST);
    CALL(futex(w, FUTEX_WAKE, 1, NULL, NULL, 0));
    finish("waiter", &a);

    /* Counts: three waiters, a wake of 2, then a wake of 0 (the kernel wakes one anyway). */
    *w = 0;
    start(&a, w, FUTEX_WAIT, 0);
    start(&b, w, FUTEX_WAIT, 0);
    start(&c, w, FUTEX_WAIT, 0);
    until_waiting(w, 3);
    CALL(waiting(w));
    CALL(futex(w, FUTEX_WAKE, 2, NULL, NULL, 0));
    CALL(waiting(w));
    CALL(futex(w, FUTEX_WAKE, 0, NULL, NULL, 0));
    CALL(futex(w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0));
    finish("waiter 1", &a);
    finish("waiter 2", &b);
    finish("waiter 3", &c);

    /* A timed wait woken before its deadline. */
    struct timespec long_wait = ms(10000);
    *w = 0;
    memset(&a, 0, sizeof a);
    a.word = w;
    a.op = FUTEX_WAIT;
    a.timeout = &long_wait;
    REQUIRE(pthread_create(&a.t, NULL, wait_main, &a) == 0);
    until_waiting(w, 1);
    CALL(futex(w, FUTEX_WAKE, 1, NULL, NULL, 0));
    finish("timed waiter", &a);
}

static void bitsets(void)
{
    uint32_t *w = &words[0];
    struct waiter one, two;
    *w = 0;
    say("%s: bitsets", form);
    start(&one, w, FUTEX_WAIT_BITSET, 1);
    start(&two, w, FUTEX_WAIT_BITSET, 2);
    until_waiting(w, 2);
    CALL(futex(w, FUTEX_WAKE_BITSET, INT_MAX, NULL, NULL, 4));
    CALL(futex(w, FUTEX_WAKE_BITSET, INT_MAX, NULL, NULL, 2));
    finish("waiter with bitset 2", &two);
    say("  waiter with bitset 1 still waiting: %s", yesno(!one.done));
    CALL(futex(w, FUTEX_WAKE_BITSET, INT_MAX, NULL, NULL, 3));
    finish("waiter with bitset 1", &one);
}

static void requeues(void)
{
    uint32_t *a = &words[0], *b = &words[1];
    struct waiter w[3];
    *a = 0;
    *b = 0;
    say("%s: requeue", form);
    for (int i = 0; i < 3; i++)
        start(&w[i], a, FUTEX_WAIT, 0);
    until_waiting(a, 3);
    CALL(futex(a, FUTEX_CMP_REQUEUE, 1, (void *)1L, b, 7));
    CALL(futex(a, FUTEX_CMP_REQUEUE, 1, (void *)1L, b, 0));
    CALL(waiting(a));
    CALL(waiting(b));
    CALL(futex(a, FUTEX_REQUEUE, 0, (void *)5L, b, 0));
    CALL(waiting(a));
    CALL(waiting(b));
    CALL(futex(b, FUTEX_WAKE, INT_MAX, NULL, NULL, 0));
    for (int i = 0; i < 3; i++)
        finish("waiter", &w[i]);
}

static volatile sig_atomic_t handled;
static void on_usr1(int sig)
{
    (void)sig;
    handled++;
}

static void interrupts(void)
{
    uint32_t *w = &words[0];
    struct waiter a;
    struct timespec long_wait = ms(10000);
    *w = 0;
    say("%s: signals", form);

    install_handler(SIGUSR1, on_usr1, 0);
    start(&a, w, FUTEX_WAIT, 0);
    until_waiting(w, 1);
    REQUIRE(pthread_kill(a.t, SIGUSR1) == 0);
    finish("untimed wait, handler without SA_RESTART", &a);

    install_handler(SIGUSR1, on_usr1, SA_RESTART);
    handled = 0;
    start(&a, w, FUTEX_WAIT, 0);
    until_waiting(w, 1);
    REQUIRE(pthread_kill(a.t, SIGUSR1) == 0);
    while (!handled)
        usleep(1000);
    until_waiting(w, 1);
    say("  untimed wait with SA_RESTART still waiting after the handler: %s", yesno(!a.done));
    CALL(futex(w, FUTEX_WAKE, 1, NULL, NULL, 0));
    finish("untimed wait, handler with SA_RESTART", &a);

    memset(&a, 0, sizeof a);
    a.word = w;
    a.op = FUTEX_WAIT;
    a.timeout = &long_wait;
    REQUIRE(pthread_create(&a.t, NULL, wait_main, &a) == 0);
    until_waiting(w, 1);
    REQUIRE(pthread_kill(a.t, SIGUSR1) == 0);
    finish("timed wait, handler with SA_RESTART", &a);
    signal(SIGUSR1, SIG_DFL);
}

/* A thread glibc starts for a SIGEV_THREAD timer: never a green thread. */
static void timer_wake(union sigval v)
{
    uint32_t *w = v.sival_ptr;
    __atomic_store_n(w, 1, __ATOMIC_SEQ_CST);
    long r = futex(w, FUTEX_WAKE, 1, NULL, NULL, 0);
    __atomic_store_n(&words[2], (uint32_t)(r + 1), __ATOMIC_SEQ_CST);
}

static void outside_wakes(int shm)
{
    uint32_t *w = &words[0];
    struct waiter a;
    pthread_t tick;
    say("%s: wakes from outside", form);

    *w = 0;
    words[2] = 0;
    ticks = 0;
    start(&a, w, FUTEX_WAIT, 0);
    until_waiting(w, 1);
    timer_t timer;
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_notify_function = timer_wake;
    ev.sigev_value.sival_ptr = w;
    REQUIRE(timer_create(CLOCK_MONOTONIC, &ev, &timer) == 0);
    struct itimerspec when = {{0, 0}, {0, 60 * 1000000}};
    REQUIRE(timer_settime(timer, 0, &when, NULL) == 0);
    REQUIRE(pthread_create(&tick, NULL, ticker, NULL) == 0);
    REQUIRE(pthread_join(tick, NULL) == 0);
    finish("waiter woken from a SIGEV_THREAD timer's thread", &a);
    while (__atomic_load_n(&words[2], __ATOMIC_SEQ_CST) == 0)
        usleep(1000);
    say("  the timer thread's wake returned %u", words[2] - 1);
    timer_delete(timer);

    if (!shm)
        return;
    /* Another process, on the MAP_SHARED word. */
    *w = 0;
    ticks = 0;
    start(&a, w, FUTEX_WAIT, 0);
    until_waiting(w, 1);
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        struct timespec pause = ms(60);
        nanosleep(&pause, NULL);
        __atomic_store_n(w, 1, __ATOMIC_SEQ_CST);
        _exit((int)syscall(SYS_futex, w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0));
    }
    REQUIRE(pthread_create(&tick, NULL, ticker, NULL) == 0);
    REQUIRE(pthread_join(tick, NULL) == 0);
    say("  ticker ran while the waiter waited: %s", yesno(ticks == 10));
    finish("waiter woken from another process", &a);
    int status;
    REQUIRE(waitpid(child, &status, 0) == child);
    say("  the other process's wake returned %d", WEXITSTATUS(status));
}

/* A child forked while a thread waits on a private futex: the waiter is not the child's, and
 * the child's own waits work (a shared one with a timeout, after the parent used helpers). */
static void fork_child(void)
{
    uint32_t *w = &words[0];
    struct waiter a;
    say("%s: fork while a thread waits", form);
    *w = 0;
    memset(&a, 0, sizeof a);
    a.word = w;
    a.op = FUTEX_WAIT | FUTEX_PRIVATE_FLAG; /* the private form in both parts */
    REQUIRE(pthread_create(&a.t, NULL, wait_main, &a) == 0);
    while (syscall(SYS_futex, w, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)(long)INT_MAX, w, 0) != 1)
        usleep(500);
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        long woken = syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
        struct timespec t = ms(10);
        long r = syscall(SYS_futex, &words[3], FUTEX_WAIT, 0, &t, NULL, 0);
        _exit((int)woken * 10 + (r == -1 && errno == ETIMEDOUT));
    }
    int status;
    REQUIRE(waitpid(child, &status, 0) == child);
    say("  the child's wake found %d waiters; its own timed shared wait timed out: %s",
        WEXITSTATUS(status) / 10, yesno(WEXITSTATUS(status) % 10 == 1));
    __atomic_store_n(w, 1, __ATOMIC_SEQ_CST);
    CALL(syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
    finish("the parent's waiter", &a);
}

int main(void)
{
    uint32_t *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(shm != MAP_FAILED);
    /* Small enough for the brk heap, where std::future keeps the words it waits on with the
     * shared operations. */
    uint32_t *heap = calloc(64, sizeof(uint32_t));
    REQUIRE(heap != NULL);
    for (int i = 0; i < 3; i++) {
        pflag = i == 0 ? FUTEX_PRIVATE_FLAG : 0;
        form = i == 0 ? "private" : i == 1 ? "shared, MAP_SHARED word" : "shared, heap word";
        words = i == 2 ? heap : shm;
        errors();
        timeouts();
        wait_and_wake();
        /* A green shared wait on a MAP_SHARED word is a futex_waitv, which has no bitset
         * (README). */
        if (i != 1)
            bitsets();
        requeues();
        interrupts();
        outside_wakes(i == 1);
        fork_child();
    }
    return 0;
}
