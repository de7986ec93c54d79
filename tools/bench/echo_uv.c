/* A raw libuv echo server: the event-loop figure the green thread server should approach.
 * Each read is written back with uv_try_write; only what the socket does not take at once is
 * copied for a queued uv_write.
 *
 *   echo_uv      listens on 127.0.0.1, port chosen by the kernel, printed on stdout */
#include "bench.h"

#include <sys/resource.h>
#include <uv.h>

typedef struct {
    uv_tcp_t tcp;
    char buf[4096];
} conn_t;

typedef struct {
    uv_write_t req;
    char data[];
} pending_t;

static void on_close(uv_handle_t* h) { free(h); }

static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf)
{
    (void)suggested;
    conn_t* c = (conn_t*)h;
    *buf = uv_buf_init(c->buf, sizeof c->buf);
}

static void on_written(uv_write_t* req, int status)
{
    (void)status;
    free(req);
}

static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf)
{
    if (nread < 0) {
        uv_close((uv_handle_t*)s, on_close);
        return;
    }
    uv_buf_t out = uv_buf_init(buf->base, (unsigned)nread);
    int put = nread > 0 ? uv_try_write(s, &out, 1) : 0;
    if (put < 0)
        put = 0;
    if (put < nread) {
        pending_t* p = malloc(sizeof *p + (size_t)(nread - put));
        memcpy(p->data, buf->base + put, (size_t)(nread - put));
        uv_buf_t rest = uv_buf_init(p->data, (unsigned)(nread - put));
        uv_write(&p->req, s, &rest, 1, on_written);
    }
}

static void on_connection(uv_stream_t* server, int status)
{
    if (status < 0)
        return;
    conn_t* c = malloc(sizeof *c);
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t*)&c->tcp) != 0) {
        uv_close((uv_handle_t*)&c->tcp, on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t*)&c->tcp, on_alloc, on_read);
}

int main(void)
{
    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);

    uv_loop_t* loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr*)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t*)&server, 4096, on_connection);
    int len = sizeof addr;
    if (rc == 0)
        rc = uv_tcp_getsockname(&server, (struct sockaddr*)&addr, &len);
    if (rc != 0) {
        fprintf(stderr, "echo_uv: listen: %s\n", uv_strerror(rc));
        return 1;
    }
    printf("%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}
