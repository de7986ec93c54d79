/* Waits that must not block the hub. Each case has one thread wait for something a second
 * thread holds while that second thread blocks (in a sleep) with it held. As green threads of
 * one hub, a wait that ends up in a futex of the hub thread would keep the sleeper from ever
 * waking: the program would hang until the alarm kills it.
 *
 *   1. pthread_cond_wait on a private condvar with a process-shared mutex: the waiter is
 *      signalled, then must re-take the mutex, which the signaller holds through a sleep.
 *   2. pthread_mutex_lock of a process-shared mutex held through a sleep.
 *   3. sem_wait on a process-shared semaphore posted after a sleep.
 *   4. pthread_rwlock_rdlock and pthread_rwlock_timedwrlock of a process-shared rwlock
 *      write-locked through a sleep. */
#include "transcript.h"

#include <pthread.h>
#include <semaphore.h>
#include <unistd.h>

static pthread_mutex_t shared_mutex;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static sem_t shared_sem;
static pthread_rwlock_t shared_rwlock;
static int ready;
static volatile int holder_done;

static void *signal_then_sleep_holding(void *arg)
{
    (void)arg;
    REQUIRE(pthread_mutex_lock(&shared_mutex) == 0);
    ready = 1;
    REQUIRE(pthread_cond_signal(&cond) == 0);
    usleep(20000); /* the waiter, signalled, now waits for the mutex */
    holder_done = 1;
    REQUIRE(pthread_mutex_unlock(&shared_mutex) == 0);
    return NULL;
}

static void *lock_sleep_unlock(void *arg)
{
    REQUIRE(pthread_mutex_lock(&shared_mutex) == 0);
    REQUIRE(sem_post(arg) == 0); /* tells main it holds the mutex */
    usleep(20000);
    holder_done = 1;
    REQUIRE(pthread_mutex_unlock(&shared_mutex) == 0);
    return NULL;
}

static void *wrlock_sleep_unlock(void *arg)
{
    REQUIRE(pthread_rwlock_wrlock(&shared_rwlock) == 0);
    REQUIRE(sem_post(arg) == 0);
    usleep(20000);
    holder_done = 1;
    REQUIRE(pthread_rwlock_unlock(&shared_rwlock) == 0);
    return NULL;
}

static void *sleep_then_post(void *arg)
{
    (void)arg;
    usleep(20000);
    holder_done = 1;
    REQUIRE(sem_post(&shared_sem) == 0);
    return NULL;
}

int main(void)
{
    alarm(20); /* the failure mode is a hang */
    pthread_mutexattr_t a;
    REQUIRE(pthread_mutexattr_init(&a) == 0);
    REQUIRE(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) == 0);
    REQUIRE(pthread_mutex_init(&shared_mutex, &a) == 0);
    REQUIRE(sem_init(&shared_sem, 1, 0) == 0);
    pthread_t t;

    /* 1 */
    holder_done = 0;
    REQUIRE(pthread_mutex_lock(&shared_mutex) == 0);
    REQUIRE(pthread_create(&t, NULL, signal_then_sleep_holding, NULL) == 0);
    while (!ready)
        CALL_ERRNUM(pthread_cond_wait(&cond, &shared_mutex));
    say("condvar wait re-took the mutex after its holder's sleep: %s", yesno(holder_done));
    CALL_ERRNUM(pthread_mutex_unlock(&shared_mutex));
    REQUIRE(pthread_join(t, NULL) == 0);

    /* 2 */
    holder_done = 0;
    sem_t held;
    REQUIRE(sem_init(&held, 0, 0) == 0);
    REQUIRE(pthread_create(&t, NULL, lock_sleep_unlock, &held) == 0);
    REQUIRE(sem_wait(&held) == 0);
    CALL_ERRNUM(pthread_mutex_lock(&shared_mutex));
    say("mutex taken after its holder's sleep: %s", yesno(holder_done));
    CALL_ERRNUM(pthread_mutex_unlock(&shared_mutex));
    REQUIRE(pthread_join(t, NULL) == 0);

    /* 3 */
    holder_done = 0;
    REQUIRE(pthread_create(&t, NULL, sleep_then_post, NULL) == 0);
    CALL(sem_wait(&shared_sem));
    say("semaphore taken after the poster's sleep: %s", yesno(holder_done));
    REQUIRE(pthread_join(t, NULL) == 0);

    /* 4 */
    pthread_rwlockattr_t ra;
    REQUIRE(pthread_rwlockattr_init(&ra) == 0);
    REQUIRE(pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED) == 0);
    REQUIRE(pthread_rwlock_init(&shared_rwlock, &ra) == 0);
    for (int write = 0; write < 2; write++) {
        holder_done = 0;
        REQUIRE(pthread_create(&t, NULL, wrlock_sleep_unlock, &held) == 0);
        REQUIRE(sem_wait(&held) == 0);
        if (write) {
            struct timespec at;
            clock_gettime(CLOCK_REALTIME, &at);
            at.tv_sec += 10;
            CALL_ERRNUM(pthread_rwlock_timedwrlock(&shared_rwlock, &at));
        } else {
            CALL_ERRNUM(pthread_rwlock_rdlock(&shared_rwlock));
        }
        say("rwlock taken after its writer's sleep: %s", yesno(holder_done));
        CALL_ERRNUM(pthread_rwlock_unlock(&shared_rwlock));
        REQUIRE(pthread_join(t, NULL) == 0);
    }
    return 0;
}
