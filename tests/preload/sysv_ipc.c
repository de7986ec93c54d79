/* System V message queues and semaphores with threads: msgrcv on an empty queue while another
 * thread sends after ten sleeps, msgsnd on a full queue while another thread drains it late,
 * semop waiting for a value another thread posts late, semtimedop timing out (EAGAIN), and the
 * calls with IPC_NOWAIT and the errors (ENOMSG, EAGAIN, E2BIG, EINVAL, EFBIG). If a wait froze
 * the OS thread it runs on, and threads are fibers of one hub, the program would hang. */
#include "transcript.h"

#include <pthread.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <unistd.h>

struct message {
    long type;
    char text[64];
};

static int queue, sems;
static volatile int ticks;

static void ten_sleeps(void)
{
    for (int i = 0; i < 10; i++) {
        usleep(10000);
        ticks = i + 1;
    }
}

static void *send_late(void *arg)
{
    (void)arg;
    struct message m = {.type = 7};
    strcpy(m.text, "from the late thread");
    ten_sleeps();
    REQUIRE(msgsnd(queue, &m, strlen(m.text) + 1, 0) == 0);
    return NULL;
}

static void *drain_late(void *arg)
{
    long *got = arg;
    struct message m;
    ten_sleeps();
    for (int i = 0; i < 3; i++)
        got[i] = msgrcv(queue, &m, sizeof m.text, 0, 0);
    return NULL;
}

static void *post_late(void *arg)
{
    (void)arg;
    struct sembuf up = {.sem_num = 0, .sem_op = 2, .sem_flg = 0};
    ten_sleeps();
    REQUIRE(semop(sems, &up, 1) == 0);
    return NULL;
}

int main(void)
{
    struct message m;
    queue = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    REQUIRE(queue >= 0);
    sems = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    REQUIRE(sems >= 0);

    say("== msgrcv on an empty queue while another thread sends");
    {
        pthread_t t;
        ticks = 0;
        REQUIRE(pthread_create(&t, NULL, send_late, NULL) == 0);
        long n = CALL(msgrcv(queue, &m, sizeof m.text, 7, 0));
        say("type %ld, text \"%s\", sender had slept %d times", m.type, n > 0 ? m.text : "",
            ticks);
        REQUIRE(pthread_join(t, NULL) == 0);
    }

    say("== msgsnd on a full queue while another thread drains it late");
    {
        struct msqid_ds ds;
        REQUIRE(msgctl(queue, IPC_STAT, &ds) == 0);
        ds.msg_qbytes = 64;
        CALL(msgctl(queue, IPC_SET, &ds));
        m.type = 1;
        memset(m.text, 'q', sizeof m.text);
        CALL(msgsnd(queue, &m, 32, 0));
        CALL(msgsnd(queue, &m, 32, 0));
        CALL(msgsnd(queue, &m, 32, IPC_NOWAIT));
        long got[3];
        pthread_t t;
        ticks = 0;
        REQUIRE(pthread_create(&t, NULL, drain_late, got) == 0);
        CALL(msgsnd(queue, &m, 32, 0));
        say("drainer had slept %d times", ticks);
        REQUIRE(pthread_join(t, NULL) == 0);
        say("drainer got %ld, %ld, %ld bytes", got[0], got[1], got[2]);
    }

    say("== msgrcv errors and IPC_NOWAIT");
    {
        CALL(msgrcv(queue, &m, sizeof m.text, 0, IPC_NOWAIT));
        m.type = 2;
        strcpy(m.text, "a long message");
        CALL(msgsnd(queue, &m, 15, 0));
        CALL(msgrcv(queue, &m, 4, 2, 0));
        long n = CALL(msgrcv(queue, &m, 4, 2, MSG_NOERROR));
        show_bytes("truncated", m.text, n);
        CALL(msgsnd(queue, &m, 4, 0));
        n = CALL(msgrcv(queue, &m, sizeof m.text, -2, 0));
        say("type %ld", m.type);
        m.type = 0;
        CALL(msgsnd(queue, &m, 4, 0));
        CALL(msgrcv(-1, &m, sizeof m.text, 0, 0));
    }

    say("== semop waiting for another thread's post");
    {
        pthread_t t;
        ticks = 0;
        struct sembuf down = {.sem_num = 0, .sem_op = -2, .sem_flg = 0};
        REQUIRE(pthread_create(&t, NULL, post_late, NULL) == 0);
        CALL(semop(sems, &down, 1));
        say("poster had slept %d times", ticks);
        REQUIRE(pthread_join(t, NULL) == 0);
        CALL(semctl(sems, 0, GETVAL));
    }

    say("== semop without waiting, semtimedop, errors");
    {
        struct sembuf ops[2] = {{.sem_num = 0, .sem_op = 1}, {.sem_num = 1, .sem_op = 3}};
        CALL(semop(sems, ops, 2));
        CALL(semctl(sems, 1, GETVAL));
        struct sembuf take = {.sem_num = 1, .sem_op = -5, .sem_flg = IPC_NOWAIT};
        CALL(semop(sems, &take, 1));
        take.sem_flg = 0;
        struct timespec t = {0, 50000000L};
        double start = mono_now();
        CALL(semtimedop(sems, &take, 1, &t));
        say("waited at least 50 ms: %s", yesno(mono_now() - start >= 0.045));
        struct timespec bad = {0, -1};
        CALL(semtimedop(sems, &take, 1, &bad));
        struct sembuf zero = {.sem_num = 0, .sem_op = 0, .sem_flg = 0};
        CALL(semtimedop(sems, &zero, 1, &t));
        struct sembuf none = {.sem_num = 5, .sem_op = -1, .sem_flg = 0};
        CALL(semop(sems, &none, 1));
        CALL(semop(sems, ops, 0));
        CALL(semop(-1, ops, 1));
        static struct sembuf many[1000];
        CALL(semop(sems, many, 1000));
        CALL(semctl(sems, 0, GETVAL));
        CALL(semctl(sems, 1, GETVAL));
    }

    CALL(msgctl(queue, IPC_RMID, NULL));
    CALL(semctl(sems, 0, IPC_RMID));
    CALL(msgrcv(queue, &m, sizeof m.text, 0, 0));
    return 0;
}
