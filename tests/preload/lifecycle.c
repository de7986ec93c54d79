/* Lifecycles around the runtime: a forked child doing blocking I/O on what it inherited
 * (the parent's hub must not be shared with it), and short-lived threads that block and exit
 * (their hubs must go with them, fds included). */
#include "transcript.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void *short_thread(void *arg)
{
    int fd = *(int *)arg;
    char c;
    usleep(500);                   /* parks: the thread gets a hub */
    if (read(fd, &c, dyn(1)) != 1) /* parks until main writes */
        return (void *)1;
    return NULL;
}

int main(void)
{
    int sv[2];
    CALL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CALL(usleep(1000)); /* the main thread has a hub before the fork */

    printf("== fork: the child blocks on an inherited socket, the parent answers\n");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        /* The child answers through the socket and its exit status, not stdout, so the
         * transcript does not depend on which process prints first. */
        char c = 0;
        usleep(20000);
        ssize_t r = read(sv[0], &c, 1);
        int ok = r == 1 && c == 'x';
        r = write(sv[0], ok ? "y" : "n", 1);
        _exit(ok && r == 1 ? 0 : 1);
    }
    usleep(50000);
    char c = 0;
    CALL(write(sv[1], "x", 1));
    CALL(read(sv[1], &c, dyn(1)));
    printf("parent got '%c'\n", c);
    int status = 0;
    CALL(waitpid(pid, &status, 0) == pid);
    printf("child exit: %d\n", WEXITSTATUS(status));

    printf("== 50 threads block and exit: no fd is left behind\n");
    int before = open_fds();
    for (int i = 0; i < 50; i++) {
        int pair[2];
        socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
        pthread_t t;
        pthread_create(&t, NULL, short_thread, &pair[0]);
        usleep(2000);
        if (write(pair[1], "z", 1) != 1)
            printf("write failed\n");
        void *result = NULL;
        pthread_join(t, &result);
        if (result)
            printf("thread %d failed\n", i);
        close(pair[0]);
        close(pair[1]);
    }
    printf("fds left behind: %d\n", open_fds() - before);

    printf("== a socket's number closed and reused past the hooks (as libc does inside itself)\n");
    int s2[2];
    CALL(socketpair(AF_UNIX, SOCK_STREAM, 0, s2));
    CALL(write(s2[1], "a", 1));
    CALL(read(s2[0], &c, dyn(1)));
    syscall(SYS_close, s2[0]);
    int p[2];
    syscall(SYS_pipe2, p, 0);
    printf("number reused: %s\n", p[0] == s2[0] ? "yes" : "no");
    char buf[8] = {0};
    CALL(write(p[1], "xyz", 3));
    CALL(read(p[0], buf, dyn(sizeof buf)));
    printf("read back: %s\n", buf);
    CALL(close(p[0]));
    CALL(close(p[1]));
    CALL(close(s2[1]));
    return 0;
}
