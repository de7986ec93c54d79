/* A thread-per-connection TCP echo server, written the plain way: blocking accept, one
 * detached thread per connection with blocking read and write. The same binary is run
 * natively and under the library.
 *
 *   echo_threads      listens on 127.0.0.1, port chosen by the kernel, printed on stdout
 *
 * Runs until killed. A connection whose thread cannot be created is closed, and said so on
 * stderr (once per errno). */
#include "bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void* serve(void* arg)
{
    int fd = (int)(long)arg;
    char buf[4096];
    for (;;) {
        ssize_t got = read(fd, buf, sizeof buf);
        if (got <= 0)
            break;
        for (ssize_t off = 0; off < got;) {
            ssize_t put = write(fd, buf + off, (size_t)(got - off));
            if (put <= 0)
                goto done;
            off += put;
        }
    }
done:
    close(fd);
    return NULL;
}

int main(void)
{
    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (bind(lfd, (struct sockaddr*)&addr, sizeof addr) || listen(lfd, 4096) ||
        getsockname(lfd, (struct sockaddr*)&addr, &len)) {
        perror("echo_threads: listen");
        return 1;
    }
    printf("%d\n", ntohs(addr.sin_port));
    fflush(stdout);

    int reported = 0;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (reported != errno) {
                reported = errno;
                perror("echo_threads: accept");
            }
            usleep(10000);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        int rc = pthread_create(&t, NULL, serve, (void*)(long)fd);
        if (rc != 0) {
            if (reported != rc) {
                reported = rc;
                fprintf(stderr, "echo_threads: pthread_create: %s\n", strerror(rc));
            }
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}
