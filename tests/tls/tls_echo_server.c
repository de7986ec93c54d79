/* A thread-per-connection TLS echo server, written the plain blocking way: blocking sockets,
 * one pthread per client, SSL_accept/SSL_read/SSL_write that block. Nothing here knows about
 * libgreen; tls.sh runs it natively and under green-run and compares what it prints.
 *
 *   tls_echo_server CERT KEY PORTFILE CONNECTIONS
 *
 * Binds 127.0.0.1:0, writes the port to PORTFILE, serves CONNECTIONS connections (each echoes
 * everything until the client's close_notify, then answers with its own), joins every thread,
 * prints a summary and exits 0 if every connection went cleanly. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    SSL_CTX *ctx;
    int fd;
    long long echoed;
    int ok;
};

static atomic_int live, peak_live;

static void die(const char *what) {
    fprintf(stderr, "tls_echo_server: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static void note_peak(int now) {
    int seen = atomic_load(&peak_live);
    while (now > seen && !atomic_compare_exchange_weak(&peak_live, &seen, now)) {
    }
}

static void *serve(void *arg) {
    struct conn *c = arg;
    SSL *ssl = SSL_new(c->ctx);
    char buf[16384];
    if (ssl == NULL || SSL_set_fd(ssl, c->fd) != 1 || SSL_accept(ssl) != 1)
        goto out;
    for (;;) {
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) {
            /* The client's close_notify ends the stream cleanly; anything else is an error. */
            if (SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN && SSL_shutdown(ssl) >= 0)
                c->ok = 1;
            break;
        }
        if (SSL_write(ssl, buf, n) != n)
            break;
        c->echoed += n;
    }
out:
    if (!c->ok)
        ERR_print_errors_fp(stderr);
    SSL_free(ssl);
    close(c->fd);
    atomic_fetch_sub(&live, 1);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: tls_echo_server CERT KEY PORTFILE CONNECTIONS\n");
        return 2;
    }
    int connections = atoi(argv[4]);
    signal(SIGPIPE, SIG_IGN);

    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        die("SSL_CTX_new");
    if (SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1)
        die("loading the certificate");
    if (SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1)
        die("loading the key");

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(lfd, 1024) != 0 || getsockname(lfd, (struct sockaddr *)&addr, &len) != 0)
        die("listening socket");

    /* Written under another name and renamed, so a reader never sees half a port. */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[3]);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%d\n", ntohs(addr.sin_port)) < 0 || fclose(f) != 0 ||
        rename(tmp, argv[3]) != 0)
        die("writing the port file");

    struct conn *conns = calloc(connections, sizeof *conns);
    pthread_t *threads = calloc(connections, sizeof *threads);
    for (int i = 0; i < connections; i++) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            die("accept");
        note_peak(atomic_fetch_add(&live, 1) + 1);
        conns[i] = (struct conn){.ctx = ctx, .fd = fd};
        int err = pthread_create(&threads[i], NULL, serve, &conns[i]);
        if (err != 0) {
            fprintf(stderr, "tls_echo_server: pthread_create: %s\n", strerror(err));
            return 1;
        }
    }
    close(lfd);

    long long echoed = 0;
    int clean = 0;
    for (int i = 0; i < connections; i++) {
        pthread_join(threads[i], NULL);
        echoed += conns[i].echoed;
        clean += conns[i].ok;
    }
    printf("server: %d connections, at most %d open at once, %d closed cleanly, %lld bytes "
           "echoed\n", connections, atomic_load(&peak_live), clean, echoed);
    SSL_CTX_free(ctx);
    free(conns);
    free(threads);
    return clean == connections ? 0 : 1;
}
