/* N threads blocked at once, as a thread-per-task program has them.
 *
 *   bench_blocked sleep N    each thread blocks in sleep()
 *   bench_blocked read N     each thread blocks in read() on a UDP socket of its own
 *
 * Threads are created with default attributes (the stack size a program gets). When all N
 * are blocked, prints one line:
 *   mode=sleep n=N created=N ok=1 spawn_ns=... threads=... rss_kb=... slab_kb=... pagetables_kb=...
 *   kernelstack_kb=... (the last three are /proc/meminfo deltas since before the first thread;
 *   system-wide, so other processes add noise)
 * or, when thread or socket N cannot be created, ok=0 with created=<how many were>, error=<errno
 * name>, what=<the call that failed>, and the limits that explain it: tasks (threads on the
 * system), pid_max, threads_max, maps (this process's mappings), max_map_count, fds, nofile.
 * The process then exits without unblocking anyone: exit_group ends every thread. */
#include "bench.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_long blocked;
static int* sockets;

static void* sleeper(void* arg)
{
    (void)arg;
    atomic_fetch_add(&blocked, 1);
    for (;;)
        sleep(3600);
    return NULL;
}

static void* reader(void* arg)
{
    int fd = sockets[(long)arg];
    char c;
    atomic_fetch_add(&blocked, 1);
    for (;;)
        if (read(fd, &c, 1) < 0) {
            perror("read");
            exit(1);
        }
    return NULL;
}

/* Slab, PageTables and KernelStack from /proc/meminfo, in kB. */
static void meminfo(long out[3])
{
    static const char* names[3] = {"Slab:", "PageTables:", "KernelStack:"};
    out[0] = out[1] = out[2] = -1;
    FILE* f = fopen("/proc/meminfo", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f))
        for (int i = 0; i < 3; ++i)
            if (strncmp(line, names[i], strlen(names[i])) == 0)
                out[i] = strtol(line + strlen(names[i]), NULL, 10);
    fclose(f);
}

static long read_long(const char* path)
{
    FILE* f = fopen(path, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

static long count_lines(const char* path)
{
    FILE* f = fopen(path, "r");
    if (!f)
        return -1;
    long n = 0;
    int c;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static long count_fds(void)
{
    DIR* d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    while (readdir(d))
        ++n;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own fd */
}

/* Threads on the whole system: the denominator of "1/234" in /proc/loadavg. */
static long system_tasks(void)
{
    FILE* f = fopen("/proc/loadavg", "r");
    long running = 0, total = -1;
    if (f) {
        if (fscanf(f, "%*f %*f %*f %ld/%ld", &running, &total) != 2)
            total = -1;
        fclose(f);
    }
    return total;
}

static void report_failure(const char* mode, long n, long created, const char* what, int error)
{
    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    printf("mode=%s n=%ld created=%ld ok=0 what=%s error=%s tasks=%ld pid_max=%ld threads_max=%ld "
           "maps=%ld max_map_count=%ld fds=%ld nofile=%ld\n",
           mode, n, created, what, strerrorname_np(error) ? strerrorname_np(error) : "?",
           system_tasks(), read_long("/proc/sys/kernel/pid_max"),
           read_long("/proc/sys/kernel/threads-max"), count_lines("/proc/self/maps"),
           read_long("/proc/sys/vm/max_map_count"), count_fds(), (long)nofile.rlim_cur);
    fflush(stdout);
    _exit(0);
}

int main(int argc, char** argv)
{
    if (argc != 3 || (strcmp(argv[1], "sleep") != 0 && strcmp(argv[1], "read") != 0)) {
        fprintf(stderr, "usage: bench_blocked sleep|read N\n");
        return 2;
    }
    const char* mode = argv[1];
    long n = bench_arg(argv[2], "N");
    int use_sockets = strcmp(mode, "read") == 0;

    /* A socket per thread: take every fd the hard limit allows. */
    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);

    if (use_sockets) {
        sockets = calloc((size_t)n, sizeof *sockets);
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        for (long i = 0; i < n; ++i) {
            sockets[i] = socket(AF_INET, SOCK_DGRAM, 0);
            if (sockets[i] < 0)
                report_failure(mode, n, 0, "socket", errno);
            if (bind(sockets[i], (struct sockaddr*)&addr, sizeof addr) < 0)
                report_failure(mode, n, 0, "bind", errno);
        }
    }

    /* The baseline is taken after the sockets exist: what is measured is the cost of the
     * threads blocked on them. */
    long rss0 = bench_status_field("VmRSS"), mem0[3];
    meminfo(mem0);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; ++i) {
        pthread_t t;
        int rc = pthread_create(&t, NULL, use_sockets ? reader : sleeper, (void*)i);
        if (rc != 0)
            report_failure(mode, n, i, "pthread_create", rc);
        pthread_detach(t);
    }
    while (atomic_load(&blocked) < n)
        usleep(1000);
    /* Each thread counted itself just before its call: let the last ones get into it. */
    usleep(20000);
    uint64_t spawn_ns = bench_now_ns() - t0;
    long threads_now = bench_status_field("Threads");
    if (threads_now < 0)
        report_failure(mode, n, n, "measure", errno); /* /proc unreadable: no fd left */
    long mem1[3];
    meminfo(mem1);
    printf("mode=%s n=%ld created=%ld ok=1 spawn_ns=%llu threads=%ld rss_kb=%ld slab_kb=%ld "
           "pagetables_kb=%ld kernelstack_kb=%ld\n",
           mode, n, n, (unsigned long long)spawn_ns, threads_now,
           bench_status_field("VmRSS") - rss0, mem1[0] - mem0[0], mem1[1] - mem0[1],
           mem1[2] - mem0[2]);
    fflush(stdout);
    _exit(0);
}
