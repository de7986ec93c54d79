/* A thread-per-connection echo server, written the way such servers were written before event
 * loops: a blocking accept loop, one detached pthread per client, blocking read and write.
 *
 * usage: echo_server
 * Listens on 127.0.0.1 on a port the kernel picks and prints one line, "port N", on stdout;
 * nothing else goes to stdout, and stderr only on a failure (exit status 1).
 *
 * The first byte a client sends picks what its connection is for:
 *   'E'  echo: everything that follows is written back until the client shuts down its side;
 *        then the server closes the connection.
 *   'T'  the server answers "threads N\n", N its own OS thread count from /proc/self/status,
 *        and closes; the test asks while thousands of echo connections are held open.
 *   'Q'  the server exits with status 0 (so a green run ends normally and prints its stats).
 */
#include "os_threads.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

static void die(const char *what)
{
    fprintf(stderr, "echo_server: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char cmd;
    ssize_t n;
    while ((n = read(fd, &cmd, 1)) < 0 && errno == EINTR)
        ;
    if (n == 1 && cmd == 'E') {
        char buf[16384];
        for (;;) {
            n = read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                die("read");
            if (n == 0)
                break;
            if (write_all(fd, buf, (size_t)n) != 0)
                die("write");
        }
    } else if (n == 1 && cmd == 'T') {
        char line[64];
        int len = snprintf(line, sizeof line, "threads %d\n", os_threads());
        if (write_all(fd, line, (size_t)len) != 0)
            die("write");
    } else if (n == 1 && cmd == 'Q') {
        exit(0);
    } else if (n < 0) {
        die("read");
    }
    close(fd);
    return NULL;
}

int main(void)
{
    raise_nofile();
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0)
        die("socket");
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("bind");
    if (listen(ls, SOMAXCONN) != 0)
        die("listen");
    socklen_t sl = sizeof sa;
    if (getsockname(ls, (struct sockaddr *)&sa, &sl) != 0)
        die("getsockname");
    printf("port %d\n", ntohs(sa.sin_port));
    fflush(stdout);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            die("accept");
        }
        pthread_t t;
        int rc = pthread_create(&t, &attr, serve, (void *)(intptr_t)fd);
        if (rc != 0) {
            errno = rc;
            die("pthread_create");
        }
    }
}
