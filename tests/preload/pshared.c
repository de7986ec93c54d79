/* Process-shared mutexes, condvars and semaphores in a MAP_SHARED file, used by two processes
 * that both run under the library (the second is this program again, exec'd): each side uses
 * objects the other set up, so neither has seen them initialised. The parent makes a mutex, a
 * condvar and a semaphore; the child makes a mutex and a semaphore; and both open a named
 * semaphore. The child reports through its exit status. */
#include "transcript.h"

#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

struct shared {
    pthread_mutex_t parents_mutex;
    pthread_cond_t parents_cond;
    sem_t parents_sem;  /* the child posts it when it is ready */
    int flag;           /* under parents_mutex */
    pthread_mutex_t childs_mutex;
    sem_t childs_sem;   /* the child posts it when done */
};

static struct shared *map_shared(int fd)
{
    void *p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE(p != MAP_FAILED);
    return p;
}

static void pshared_mutex(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    REQUIRE(pthread_mutexattr_init(&a) == 0);
    REQUIRE(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) == 0);
    REQUIRE(pthread_mutex_init(m, &a) == 0);
    pthread_mutexattr_destroy(&a);
}

static int child(int fd, const char *name)
{
    struct shared *s = map_shared(fd);
    int code = 0;
    pshared_mutex(&s->childs_mutex);
    if (sem_init(&s->childs_sem, 1, 0) != 0)
        code |= 1;
    if (pthread_mutex_lock(&s->childs_mutex) != 0)  /* the parent will wait for it */
        code |= 2;
    if (sem_post(&s->parents_sem) != 0)
        code |= 4;
    /* Wait on the parent's condvar, with the parent's mutex. */
    if (pthread_mutex_lock(&s->parents_mutex) != 0)
        code |= 8;
    while (!s->flag)
        if (pthread_cond_wait(&s->parents_cond, &s->parents_mutex) != 0)
            code |= 16;
    if (pthread_mutex_unlock(&s->parents_mutex) != 0)
        code |= 8;
    usleep(30000);
    if (pthread_mutex_unlock(&s->childs_mutex) != 0)
        code |= 2;
    sem_t *named = sem_open(name, 0);
    if (named == SEM_FAILED || sem_post(named) != 0 || sem_close(named) != 0)
        code |= 32;
    usleep(20000);
    if (sem_post(&s->childs_sem) != 0)
        code |= 64;
    return code;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "child") == 0)
        return child(atoi(argv[2]), argv[3]);

    char path[] = "/tmp/preload_pshared.XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    unlink(path);
    REQUIRE(ftruncate(fd, sizeof(struct shared)) == 0);
    struct shared *s = map_shared(fd);
    char name[64];
    snprintf(name, sizeof name, "/preload_pshared.%d", (int)getpid());
    sem_t *named = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
    REQUIRE(named != SEM_FAILED);

    pshared_mutex(&s->parents_mutex);
    pthread_condattr_t ca;
    CALL(pthread_condattr_init(&ca));
    CALL(pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED));
    CALL(pthread_cond_init(&s->parents_cond, &ca));
    CALL(sem_init(&s->parents_sem, 1, 0));

    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        char fds[16];
        snprintf(fds, sizeof fds, "%d", fd);
        execl("/proc/self/exe", argv[0], "child", fds, name, (char *)NULL);
        _exit(127);
    }
    CALL(sem_wait(&s->parents_sem));
    say("the child is ready and holds its mutex");
    usleep(20000);
    CALL(pthread_mutex_lock(&s->parents_mutex));
    s->flag = 1;
    CALL(pthread_cond_signal(&s->parents_cond));
    CALL(pthread_mutex_unlock(&s->parents_mutex));
    /* The child's mutex, held until the child has seen the flag and slept. */
    CALL(pthread_mutex_lock(&s->childs_mutex));
    CALL(pthread_mutex_unlock(&s->childs_mutex));
    CALL(sem_wait(named));
    CALL(sem_wait(&s->childs_sem));
    int value = -1;
    CALL(sem_getvalue(&s->childs_sem, &value));
    say("the child's semaphore's value: %d", value);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    say("child's exit status (0: everything worked): %d", WIFEXITED(status) ? WEXITSTATUS(status) : 100);
    CALL(sem_close(named));
    CALL(sem_unlink(name));
    CALL(pthread_mutex_destroy(&s->childs_mutex));
    CALL(sem_destroy(&s->childs_sem));
    CALL(pthread_cond_destroy(&s->parents_cond));
    CALL(pthread_mutex_destroy(&s->parents_mutex));
    CALL(sem_destroy(&s->parents_sem));
    return 0;
}
