/* File locks that must wait: flock and an OFD lock held by another thread on its own open of
 * the file, a POSIX record lock (fcntl F_SETLKW, lockf F_LOCK) held by a child process that a
 * thread of this process tells to let go after ten sleeps; then the calls that do not wait and
 * the errors (EWOULDBLOCK, EAGAIN, EACCES, EBADF, EINVAL), and errno kept on success. If a
 * wait froze the OS thread it runs on, and threads are fibers of one hub, the holder or the
 * releasing thread could never run and the program would hang. */
#include "transcript.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[] = "/tmp/green-file-locks-XXXXXX";
static volatile int ticks;
static pthread_barrier_t locked;

static void ten_sleeps(void)
{
    for (int i = 0; i < 10; i++) {
        usleep(10000);
        ticks = i + 1;
    }
}

/* Takes the lock with `take` on an open of its own, says so, holds it for ten sleeps. */
struct holder {
    int (*take)(int fd);
    int (*give)(int fd);
};

static void *hold_late(void *arg)
{
    struct holder *h = arg;
    int fd = open(path, O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(h->take(fd) == 0);
    pthread_barrier_wait(&locked);
    ten_sleeps();
    REQUIRE(h->give(fd) == 0);
    close(fd);
    return NULL;
}

static int flock_ex(int fd) { return flock(fd, LOCK_EX); }
static int flock_un(int fd) { return flock(fd, LOCK_UN); }

static struct flock whole(short type)
{
    struct flock l = {.l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    return l;
}

static int ofd_take(int fd)
{
    struct flock l = whole(F_WRLCK);
    return fcntl(fd, F_OFD_SETLK, &l);
}

static int ofd_give(int fd)
{
    struct flock l = whole(F_UNLCK);
    return fcntl(fd, F_OFD_SETLK, &l);
}

/* A child that takes a POSIX write lock on the whole file, says so on `ready`, and lets go
 * (by exiting) once a byte arrives on `release`. */
static pid_t child_holding(int ready[2], int release[2])
{
    REQUIRE(pipe(ready) == 0 && pipe(release) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int fd = open(path, O_RDWR);
        struct flock l = whole(F_WRLCK);
        if (fd < 0 || fcntl(fd, F_SETLK, &l) != 0)
            _exit(1);
        char c = 'y';
        if (write(ready[1], &c, 1) != 1 || read(release[0], &c, 1) != 1)
            _exit(2);
        _exit(0);
    }
    char c;
    REQUIRE(read(ready[0], &c, 1) == 1);
    return pid;
}

static int release_fd;
static void *release_late(void *arg)
{
    (void)arg;
    ten_sleeps();
    REQUIRE(write(release_fd, "g", 1) == 1);
    return NULL;
}

static void end_child(pid_t pid, int ready[2], int release[2])
{
    int status;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    say("holder exited with %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    close(ready[0]);
    close(ready[1]);
    close(release[0]);
    close(release[1]);
}

int main(void)
{
    int tmp = mkstemp(path);
    REQUIRE(tmp >= 0);
    REQUIRE(write(tmp, "0123456789", 10) == 10);
    close(tmp);
    REQUIRE(pthread_barrier_init(&locked, NULL, 2) == 0);
    int fd = open(path, O_RDWR);
    REQUIRE(fd >= 0);

    say("== flock held by another thread's open");
    {
        struct holder h = {flock_ex, flock_un};
        pthread_t t;
        ticks = 0;
        REQUIRE(pthread_create(&t, NULL, hold_late, &h) == 0);
        pthread_barrier_wait(&locked);
        CALL(flock(fd, LOCK_SH | LOCK_NB));
        CALL(flock(fd, LOCK_EX));
        say("holder had slept %d times", ticks);
        REQUIRE(pthread_join(t, NULL) == 0);
        CALL(flock(fd, LOCK_SH));
        CALL(flock(fd, LOCK_UN));
    }

    say("== OFD lock held by another thread's open");
    {
        struct holder h = {ofd_take, ofd_give};
        pthread_t t;
        ticks = 0;
        REQUIRE(pthread_create(&t, NULL, hold_late, &h) == 0);
        pthread_barrier_wait(&locked);
        struct flock l = whole(F_RDLCK);
        CALL(fcntl(fd, F_OFD_SETLK, &l));
        l = whole(F_RDLCK);
        CALL(fcntl(fd, F_OFD_GETLK, &l));
        say("conflicting lock: type %s, pid %d",
            l.l_type == F_WRLCK ? "F_WRLCK" : l.l_type == F_UNLCK ? "F_UNLCK" : "other",
            (int)l.l_pid);
        l = whole(F_WRLCK);
        CALL(fcntl(fd, F_OFD_SETLKW, &l));
        say("holder had slept %d times", ticks);
        REQUIRE(pthread_join(t, NULL) == 0);
        l = whole(F_UNLCK);
        CALL(fcntl(fd, F_OFD_SETLKW, &l));
    }

    say("== fcntl F_SETLKW on a record lock a child process holds");
    {
        int ready[2], release[2];
        pid_t pid = child_holding(ready, release);
        struct flock l = whole(F_RDLCK);
        CALL(fcntl(fd, F_SETLK, &l));
        l = whole(F_WRLCK);
        CALL(fcntl(fd, F_GETLK, &l));
        say("conflicting lock: type %s, held by the child: %s",
            l.l_type == F_WRLCK ? "F_WRLCK" : "other", yesno(l.l_pid == pid));
        pthread_t t;
        ticks = 0;
        release_fd = release[1];
        REQUIRE(pthread_create(&t, NULL, release_late, NULL) == 0);
        l = whole(F_WRLCK);
        CALL(fcntl(fd, F_SETLKW, &l));
        say("releaser had slept %d times", ticks);
        REQUIRE(pthread_join(t, NULL) == 0);
        end_child(pid, ready, release);
        l = whole(F_UNLCK);
        CALL(fcntl(fd, F_SETLKW, &l));
    }

    say("== lockf F_LOCK on a record lock a child process holds");
    {
        int ready[2], release[2];
        pid_t pid = child_holding(ready, release);
        CALL(lseek(fd, 0, SEEK_SET));
        CALL(lockf(fd, F_TEST, 0));
        CALL(lockf(fd, F_TLOCK, 4));
        pthread_t t;
        ticks = 0;
        release_fd = release[1];
        REQUIRE(pthread_create(&t, NULL, release_late, NULL) == 0);
        CALL(lockf(fd, F_LOCK, 4));
        say("releaser had slept %d times", ticks);
        REQUIRE(pthread_join(t, NULL) == 0);
        end_child(pid, ready, release);
        CALL(lockf(fd, F_TEST, 0));
        CALL(lockf(fd, F_ULOCK, 4));
    }

    say("== errors, and errno kept on success");
    {
        CALL(flock(-1, LOCK_EX));
        CALL(flock(fd, 0));
        CALL(flock(fd, LOCK_EX | LOCK_SH));
        CALL(lockf(fd, 99, 0));
        CALL(lockf(-1, F_LOCK, 0));
        struct flock l = whole(99);
        CALL(fcntl(fd, F_SETLKW, &l));
        CALL(fcntl(fd, F_OFD_SETLKW, &l));
        l = whole(F_WRLCK);
        l.l_pid = 1;
        CALL(fcntl(fd, F_OFD_SETLKW, &l));
        int ro = open(path, O_RDONLY);
        REQUIRE(ro >= 0);
        l = whole(F_WRLCK);
        CALL(fcntl(ro, F_SETLKW, &l));
        CALL(lockf(ro, F_LOCK, 0));
        close(ro);
        CALL(fcntl(-1, F_SETLKW, &l));

        errno = EIO;
        int r = flock(fd, LOCK_EX);
        say("flock = %d, errno still EIO: %s", r, yesno(errno == EIO));
        errno = EIO;
        l = whole(F_WRLCK);
        r = fcntl(fd, F_SETLKW, &l);
        say("fcntl F_SETLKW = %d, errno still EIO: %s", r, yesno(errno == EIO));
        errno = EIO;
        r = lockf(fd, F_LOCK, 0);
        say("lockf F_LOCK = %d, errno still EIO: %s", r, yesno(errno == EIO));
        CALL(flock(fd, LOCK_UN));
    }

    close(fd);
    unlink(path);
    pthread_barrier_destroy(&locked);
    say("done");
    return 0;
}
