/* N threads blocked at once, as a thread-per-task program has them.
 *
 *   bench_blocked sleep N    each thread blocks in sleep()
 *   bench_blocked read N     each thread blocks in read() on a UDP socket of its own
 *
 * Threads are created with default attributes (the stack size a program gets). When all N
 * are blocked, prints one line:
 *   mode=sleep n=N created=N ok=1 spawn_ns=... threads=... rss_kb=... pte_kb=... slab_kb=...
 *   pagetables_kb=... kernelstack_kb=... (rss and pte are this process's VmRSS and VmPTE; the
 *   last three are /proc/meminfo deltas since before the first thread, system-wide, so other
 *   processes add noise)
 * or, when thread or socket N cannot be created, or the fds ran out on the way (what=fds), ok=0
 * with created=<how many were>, error=<errno name>, what=<the call that failed>, and the limits
 * that explain it: tasks (threads on the
 * system), pid_max, threads_max, maps (this process's mappings), max_map_count, fds, nofile.
 * The process then exits without unblocking anyone: exit_group ends every thread. */
#include "bench.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
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

/* Every /proc file the program reads is opened before the first thread and read again from
 * offset 0 with pread each time (stdio's rewind may just reuse its buffer), so that measuring
 * never needs an fd: when the threads, or a library under them, used up the fds, the figures
 * can still be taken. */
static int f_meminfo, f_status, f_loadavg, f_pid_max, f_threads_max, f_max_map_count, f_maps;
static DIR* d_fds;
static char text[8192];

static int proc_open(const char* path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "bench_blocked: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    return fd;
}

/* The start of a /proc file (all of it for the small ones), NUL-terminated, in text. */
static const char* proc_text(int fd)
{
    size_t used = 0;
    ssize_t got;
    while (used < sizeof text - 1 &&
           (got = pread(fd, text + used, sizeof text - 1 - used, (off_t)used)) > 0)
        used += (size_t)got;
    text[used] = 0;
    return text;
}

/* A "Name:   value" field of /proc/meminfo or /proc/self/status, or -1. */
static long field(int fd, const char* name)
{
    const char* t = proc_text(fd);
    size_t len = strlen(name);
    for (const char* line = t; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, name, len) == 0 && line[len] == ':')
            return strtol(line + len + 1, NULL, 10);
    return -1;
}

/* Slab, PageTables and KernelStack from /proc/meminfo, in kB. */
static void meminfo(long out[3])
{
    out[0] = field(f_meminfo, "Slab");
    out[1] = field(f_meminfo, "PageTables");
    out[2] = field(f_meminfo, "KernelStack");
}

static long status_field(const char* name) { return field(f_status, name); }

static long read_long(int fd) { return strtol(proc_text(fd), NULL, 10); }

static long count_lines(int fd)
{
    long n = 0;
    off_t at = 0;
    ssize_t got;
    while ((got = pread(fd, text, sizeof text, at)) > 0) {
        for (ssize_t i = 0; i < got; ++i)
            n += text[i] == '\n';
        at += got;
    }
    return n;
}

static long count_fds(void)
{
    long n = 0;
    rewinddir(d_fds);
    while (readdir(d_fds))
        ++n;
    return n - 3; /* ".", ".." and the directory's own fd */
}

/* Threads on the whole system: the denominator of "1/234" in /proc/loadavg. */
static long system_tasks(void)
{
    long running = 0, total = -1;
    if (sscanf(proc_text(f_loadavg), "%*f %*f %*f %ld/%ld", &running, &total) != 2)
        total = -1;
    return total;
}

static void report_failure(const char* mode, long n, long created, const char* what, int error)
{
    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    printf("mode=%s n=%ld created=%ld ok=0 what=%s error=%s tasks=%ld pid_max=%ld threads_max=%ld "
           "maps=%ld max_map_count=%ld fds=%ld nofile=%ld\n",
           mode, n, created, what, strerrorname_np(error) ? strerrorname_np(error) : "?",
           system_tasks(), read_long(f_pid_max), read_long(f_threads_max), count_lines(f_maps),
           read_long(f_max_map_count), count_fds(), (long)nofile.rlim_cur);
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

    f_meminfo = proc_open("/proc/meminfo");
    f_status = proc_open("/proc/self/status");
    f_loadavg = proc_open("/proc/loadavg");
    f_pid_max = proc_open("/proc/sys/kernel/pid_max");
    f_threads_max = proc_open("/proc/sys/kernel/threads-max");
    f_max_map_count = proc_open("/proc/sys/vm/max_map_count");
    f_maps = proc_open("/proc/self/maps");
    d_fds = opendir("/proc/self/fd");
    if (!d_fds) {
        perror("bench_blocked: /proc/self/fd");
        return 1;
    }

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
    long rss0 = status_field("VmRSS"), pte0 = status_field("VmPTE"), mem0[3];
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
    /* Every thread exists and counted itself; if the fds ran out on the way (a library that
     * needs fds per thread), the threads may not be blocked the way they should: a failure. */
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    if (count_fds() >= (long)limit.rlim_cur - 8)
        report_failure(mode, n, n, "fds", EMFILE);
    long threads_now = status_field("Threads");
    long mem1[3];
    meminfo(mem1);
    printf("mode=%s n=%ld created=%ld ok=1 spawn_ns=%llu threads=%ld rss_kb=%ld pte_kb=%ld "
           "slab_kb=%ld pagetables_kb=%ld kernelstack_kb=%ld\n",
           mode, n, n, (unsigned long long)spawn_ns, threads_now, status_field("VmRSS") - rss0,
           status_field("VmPTE") - pte0, mem1[0] - mem0[0], mem1[1] - mem0[1], mem1[2] - mem0[2]);
    fflush(stdout);
    _exit(0);
}
