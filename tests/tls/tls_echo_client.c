/* Many concurrent TLS clients, one pthread each, blocking sockets and blocking SSL calls; every
 * byte echoed back is checked. Nothing here knows about libgreen.
 *
 *   tls_echo_client PORT CONNECTIONS BYTES CAFILE
 *
 * Each thread connects to 127.0.0.1:PORT, completes a verified handshake (CAFILE, the name
 * 127.0.0.1), then waits on a barrier until every connection has done the same, so that all
 * CONNECTIONS are open at once. Then it sends BYTES of its own pattern in chunks of varying
 * size, reading each chunk's echo before the next, sends close_notify and waits for the
 * server's. Prints a summary; exits 0 if every byte came back as sent. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static SSL_CTX *ctx;
static int port, bytes;
static pthread_barrier_t all_connected;

struct result {
    long long verified;
    int handshake_ok, mismatch, clean_close;
};

/* The byte at offset i of connection k: differs between connections and between offsets. */
static unsigned char pattern(int k, long long i) {
    uint64_t x = (uint64_t)(k + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)i * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return (unsigned char)(x ^ (x >> 17));
}

static SSL *handshake(int k) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        fprintf(stderr, "client %d: connect failed\n", k);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    SSL *ssl = SSL_new(ctx);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
        fprintf(stderr, "client %d: handshake failed\n", k);
        ERR_print_errors_fp(stderr);
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    return ssl;
}

static void *run(void *arg) {
    int k = (int)(intptr_t)arg;
    struct result *r = calloc(1, sizeof *r);
    SSL *ssl = handshake(k);
    r->handshake_ok = ssl != NULL;
    pthread_barrier_wait(&all_connected);
    if (ssl == NULL)
        return r;

    unsigned char out[16384], in[16384];
    long long sent = 0;
    /* Chunk sizes vary with the connection and the step: 1 byte to 16 KiB. */
    for (int step = 0; sent < bytes && !r->mismatch; step++) {
        int n = 1 + (int)((k * 7919 + step * 104729) % (int)sizeof out);
        if (n > bytes - sent)
            n = (int)(bytes - sent);
        for (int i = 0; i < n; i++)
            out[i] = pattern(k, sent + i);
        if (SSL_write(ssl, out, n) != n) {
            r->mismatch = 1;
            break;
        }
        for (int got = 0; got < n;) {
            int m = SSL_read(ssl, in + got, n - got);
            if (m <= 0) {
                r->mismatch = 1;
                break;
            }
            got += m;
        }
        if (!r->mismatch && memcmp(in, out, n) != 0)
            r->mismatch = 1;
        if (!r->mismatch)
            r->verified += n;
        sent += n;
    }
    /* close_notify, then the server's: SSL_read returns 0 with SSL_ERROR_ZERO_RETURN. */
    if (!r->mismatch && SSL_shutdown(ssl) >= 0) {
        char c;
        int m = SSL_read(ssl, &c, 1);
        r->clean_close = m == 0 && SSL_get_error(ssl, m) == SSL_ERROR_ZERO_RETURN;
    }
    if (r->mismatch)
        fprintf(stderr, "client %d: the echo differs from what was sent, or stopped, after "
                "%lld bytes\n", k, r->verified);
    close(SSL_get_fd(ssl));
    SSL_free(ssl);
    return r;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: tls_echo_client PORT CONNECTIONS BYTES CAFILE\n");
        return 2;
    }
    port = atoi(argv[1]);
    int connections = atoi(argv[2]);
    bytes = atoi(argv[3]);
    signal(SIGPIPE, SIG_IGN);

    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL || SSL_CTX_load_verify_locations(ctx, argv[4], NULL) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    pthread_barrier_init(&all_connected, NULL, connections);

    pthread_t *threads = calloc(connections, sizeof *threads);
    for (int k = 0; k < connections; k++) {
        int err = pthread_create(&threads[k], NULL, run, (void *)(intptr_t)k);
        if (err != 0) {
            fprintf(stderr, "tls_echo_client: pthread_create: %s\n", strerror(err));
            return 1;
        }
    }
    int handshakes = 0, good = 0, clean = 0;
    long long verified = 0;
    for (int k = 0; k < connections; k++) {
        struct result *r;
        pthread_join(threads[k], (void **)&r);
        handshakes += r->handshake_ok;
        good += r->handshake_ok && !r->mismatch;
        clean += r->clean_close;
        verified += r->verified;
        free(r);
    }
    printf("client: %d connections, %d verified handshakes (all before any data), %d echoed "
           "%d bytes each with every byte as sent, %d closed cleanly, %lld bytes verified\n",
           connections, handshakes, good, bytes, clean, verified);
    pthread_barrier_destroy(&all_connected);
    SSL_CTX_free(ctx);
    free(threads);
    return good == connections && clean == connections ? 0 : 1;
}
