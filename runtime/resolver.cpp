#include "resolver.hpp"

#include "fd_table.hpp"
#include "hub.hpp"
#include "internal.hpp"

#include <ares.h>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <arpa/nameser.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <new>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <unordered_map>
#include <uv.h>

namespace green::resolver {
void shutdown_channel(hub& h);

namespace {

// Set by configure() at start-up, which may run before this file's dynamic initialisers
// (libgreen's constructor has priority 101): a constant-initialised pointer, not a std::string.
const char* configured_servers = nullptr;

// One c-ares channel per hub, living on the hub's thread.
struct channel;

struct socket_watch {
    uv_poll_t handle;
    channel* owner;
    ares_socket_t fd;
};

struct channel {
    hub* owner = nullptr;
    int attempts = 2;
    ares_channel ares = nullptr;
    uv_timer_t timer{};
    bool timer_ready = false;
    std::unordered_map<ares_socket_t, socket_watch*> watches;
};

// The channel of a hub lives in the hub (hub::resolver_channel), which tears it down.
channel*& channel_of(hub& h)
{
    return reinterpret_cast<channel*&>(h.resolver_channel);
}


// A lookup in flight: the fiber that waits for it and what it will be told.
struct request {
    fiber* waiter = nullptr;
    bool parked = false;
    bool done = false;
    bool timed_out = false;
    answer result;
};

outcome outcome_of(int status)
{
    switch (status) {
    case ARES_SUCCESS: return outcome::ok;
    case ARES_ENOTFOUND: return outcome::not_found;
    case ARES_ENODATA: return outcome::no_data;
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ETIMEOUT:
    case ARES_ECONNREFUSED:
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION: return outcome::try_again;
    default: return outcome::failed;
    }
}

// c-ares's sockets: made here so that they are the runtime's own (high, close-on-exec,
// hidden from the program) and non-blocking from birth.
ares_socket_t open_socket(int domain, int type, int protocol, void*)
{
    internal_scope scope;
    int fd = ::socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        return ARES_SOCKET_BAD;
    if ((type & 0xf) == SOCK_DGRAM) {
        // One UDP socket carries every lookup of the hub (glibc uses one per lookup): a burst
        // of answers to a thousand concurrent lookups overflows the default 208 KiB buffer,
        // and each dropped answer costs a resolver timeout (measured: 300+ UdpRcvbufErrors
        // and 5-10 s for 1,000 lookups). Raise it past rmem_max where allowed (root).
        int size = 4 << 20;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    return fd_table::adopt_runtime_fd(fd);
}

int close_socket(ares_socket_t fd, void*)
{
    fd_table::release_runtime_fd(fd);
    return 0;
}

int connect_socket(ares_socket_t fd, const sockaddr* addr, ares_socklen_t len, void*)
{
    internal_scope scope;
    return ::connect(fd, addr, len);
}

ares_ssize_t receive(ares_socket_t fd, void* buf, size_t len, int flags, sockaddr* from,
                     ares_socklen_t* from_len, void*)
{
    internal_scope scope;
    return ::recvfrom(fd, buf, len, flags, from, from_len);
}

ares_ssize_t send_vector(ares_socket_t fd, const iovec* iov, int count, void*)
{
    internal_scope scope;
    return ::writev(fd, iov, count);
}

const ares_socket_functions socket_functions = {open_socket, close_socket, connect_socket,
                                                receive, send_vector};

// The next c-ares deadline, on the hub's loop. libuv's clock is refreshed first: fibers may
// have run for a while since the loop last looked at it.
void reschedule(channel* c)
{
    timeval tv;
    if (!ares_timeout(c->ares, nullptr, &tv)) {
        uv_timer_stop(&c->timer);
        return;
    }
    std::uint64_t ms = std::uint64_t(tv.tv_sec) * 1000 + std::uint64_t(tv.tv_usec + 999) / 1000;
    uv_update_time(c->timer.loop);
    uv_timer_start(
        &c->timer,
        [](uv_timer_t* t) {
            internal_scope scope;
            auto* ch = static_cast<channel*>(t->data);
            ares_process_fd(ch->ares, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
            reschedule(ch);
        },
        ms, 0);
}

void on_socket_event(uv_poll_t* handle, int status, int events)
{
    internal_scope scope;
    auto* w = static_cast<socket_watch*>(handle->data);
    channel* c = w->owner;
    // An error on the socket is reported to c-ares as readiness, so that it reads the error.
    bool readable = status < 0 || (events & UV_READABLE);
    bool writable = status < 0 || (events & UV_WRITABLE);
    ares_process_fd(c->ares, readable ? w->fd : ARES_SOCKET_BAD,
                    writable ? w->fd : ARES_SOCKET_BAD);
    reschedule(c);
}

// c-ares says which sockets it wants watched; it calls this with (0, 0) before closing one.
void on_socket_state(void* data, ares_socket_t fd, int readable, int writable)
{
    auto* c = static_cast<channel*>(data);
    auto it = c->watches.find(fd);
    if (!readable && !writable) {
        if (it == c->watches.end())
            return;
        socket_watch* w = it->second;
        c->watches.erase(it);
        uv_poll_stop(&w->handle);
        uv_close(reinterpret_cast<uv_handle_t*>(&w->handle),
                 [](uv_handle_t* h) { delete static_cast<socket_watch*>(h->data); });
        return;
    }
    socket_watch* w;
    if (it != c->watches.end()) {
        w = it->second;
    } else {
        w = new (std::nothrow) socket_watch{};
        if (!w)
            return;  // the query times out instead
        w->owner = c;
        w->fd = fd;
        if (uv_poll_init_socket(c->timer.loop, &w->handle, fd) != 0) {
            delete w;
            return;
        }
        w->handle.data = w;
        c->watches.emplace(fd, w);
    }
    uv_poll_start(&w->handle, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0),
                  on_socket_event);
}

// The resolver options glibc honours, with glibc's defaults and limits (resolv.conf(5)).
// c-ares would read them too, but retransmits with a timeout that doubles every round while
// glibc keeps it constant: the channel makes one round per try (ARES_OPT_TRIES 1) and `run`
// repeats it `attempts` times, as glibc does.
struct resolv_options {
    int timeout = 5;   // seconds per round; RES_TIMEOUT, at most RES_MAXRETRANS
    int attempts = 2;  // rounds; RES_DFLRETRY, at most RES_MAXRETRY
    int ndots = 1;     // at most RES_MAXNDOTS
    bool rotate = false;
};

void apply_options(const std::string& words, resolv_options& o)
{
    std::istringstream in(words);
    std::string w;
    auto value = [&](const char* key, int low, int high, int& out) {
        std::size_t n = std::strlen(key);
        if (w.compare(0, n, key) != 0)
            return;
        out = std::clamp(std::atoi(w.c_str() + n), low, high);
    };
    while (in >> w) {
        value("timeout:", 0, 30, o.timeout);
        value("attempts:", 1, 5, o.attempts);
        value("ndots:", 0, 15, o.ndots);
        if (w == "rotate")
            o.rotate = true;
    }
}

resolv_options read_options()
{
    resolv_options o;
    std::ifstream conf("/etc/resolv.conf");
    std::string line;
    while (std::getline(conf, line))
        if (line.compare(0, 7, "options") == 0 && line.size() > 7 && std::isspace(line[7]))
            apply_options(line.substr(8), o);
    if (const char* env = std::getenv("RES_OPTIONS"))
        apply_options(env, o);
    if (o.timeout < 1)
        o.timeout = 1;  // as glibc's send_dg: never less than a second per try
    return o;
}

channel* make_channel(hub* h)
{
    static const int library = [] {
        internal_scope scope;
        return ares_library_init(ARES_LIB_INIT_ALL);
    }();
    if (library != ARES_SUCCESS)
        return nullptr;
    auto* c = new (std::nothrow) channel();
    if (!c)
        return nullptr;
    c->owner = h;
    resolv_options conf = read_options();
    c->attempts = conf.attempts;
    ares_options options{};
    options.sock_state_cb = on_socket_state;
    options.sock_state_cb_data = c;
    // DNS only: the hosts file and nsswitch are decided by the caller, through glibc.
    options.lookups = const_cast<char*>("b");
    options.timeout = conf.timeout * 1000;
    options.tries = 1;
    options.ndots = conf.ndots;
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
               ARES_OPT_NDOTS | (conf.rotate ? ARES_OPT_ROTATE : 0);
    if (ares_init_options(&c->ares, &options, mask) != ARES_SUCCESS) {
        delete c;
        return nullptr;
    }
    ares_set_socket_functions(c->ares, &socket_functions, nullptr);
    if (configured_servers &&
        ares_set_servers_ports_csv(c->ares, configured_servers) != ARES_SUCCESS) {
        ares_destroy(c->ares);
        delete c;
        return nullptr;
    }
    uv_timer_init(h->loop(), &c->timer);
    c->timer.data = c;
    c->timer_ready = true;
    return c;
}

channel* channel_for_this_thread()
{
    hub* h = hub::for_this_thread();
    if (!h)
        return nullptr;
    channel*& c = channel_of(*h);
    if (!c) {
        hub::teardown_resolver = &shutdown_channel;
        internal_scope scope;
        c = make_channel(h);
    }
    return c;
}

void finish(request* r, answer&& a, int status)
{
    r->timed_out = status == ARES_ETIMEOUT;
    r->result = std::move(a);
    r->done = true;
    if (r->parked)
        hub::try_wake(r->waiter, wake_reason::ready);
}

// Starts a lookup with `start(channel, request)` and parks until its callback has finished it;
// a lookup that timed out on every server is made again, up to resolv.conf's `attempts`.
template <class Start>
answer run(Start&& start)
{
    for (int attempt = 1;; ++attempt) {
        request r;
        channel* c;
        {
            internal_scope scope;
            c = channel_for_this_thread();
            if (!c) {
                r.result.result = outcome::try_again;
                return r.result;
            }
            r.waiter = tls.running;
            start(c->ares, &r);
            if (!r.done)
                reschedule(c);
        }
        hub* h = c->owner;
        while (!r.done) {
            r.parked = true;
            r.waiter->wake.store(int(wake_reason::waiting), std::memory_order_relaxed);
            h->park(no_deadline, interrupt_mode::never);
        }
        if (!r.timed_out || attempt >= c->attempts)
            return std::move(r.result);
    }
}

address address_of(const sockaddr* sa)
{
    address a;
    a.family = sa->sa_family;
    if (sa->sa_family == AF_INET)
        std::memcpy(a.bytes, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    else
        std::memcpy(a.bytes, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
    return a;
}

// ares_getaddrinfo's answer: addresses in reply order (or sorted), the CNAME chain (listed
// once per query type) and the name after the search list.
void on_addrinfo(void* arg, int status, int, ares_addrinfo* res)
{
    answer a;
    a.result = outcome_of(status);
    if (status == ARES_SUCCESS && res) {
        for (ares_addrinfo_node* n = res->nodes; n; n = n->ai_next)
            if (n->ai_family == AF_INET || n->ai_family == AF_INET6)
                a.addresses.push_back(address_of(n->ai_addr));
        for (ares_addrinfo_cname* cn = res->cnames; cn; cn = cn->next) {
            if (cn->alias && std::find(a.aliases.begin(), a.aliases.end(), cn->alias) ==
                                 a.aliases.end())
                a.aliases.emplace_back(cn->alias);
            if (cn->name)
                a.canonical = cn->name;
        }
        if (a.canonical.empty() && res->name)
            a.canonical = res->name;
        if (a.addresses.empty())
            a.result = outcome::no_data;
    }
    if (res)
        ares_freeaddrinfo(res);
    finish(static_cast<request*>(arg), std::move(a), status);
}

answer lookup_names(const char* name, int family, bool sorted)
{
    return run([&](ares_channel ch, request* r) {
        ares_addrinfo_hints hints{};
        hints.ai_family = family;
        hints.ai_flags = ARES_AI_CANONNAME | (sorted ? 0 : ARES_AI_NOSORT);
        ares_getaddrinfo(ch, name, nullptr, &hints, on_addrinfo, r);
    });
}

}  // namespace

bool configure(const settings& s)
{
    if (s.servers.empty()) {
        configured_servers = nullptr;
        return true;
    }
    configured_servers = strdup(s.servers.c_str());  // kept for the process's life
    // Checked once against c-ares itself, so that a value it would refuse is reported at start.
    internal_scope scope;
    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
        return false;
    ares_channel probe;
    ares_options options{};
    options.lookups = const_cast<char*>("b");
    if (ares_init_options(&probe, &options, ARES_OPT_LOOKUPS) != ARES_SUCCESS)
        return false;
    bool ok = ares_set_servers_ports_csv(probe, s.servers.c_str()) == ARES_SUCCESS;
    ares_destroy(probe);
    ares_library_cleanup();
    return ok;
}

answer lookup_addrinfo(const char* name, int family)
{
    return lookup_names(name, family, true);
}

answer lookup_hostent(const char* name, int family)
{
    return lookup_names(name, family, false);
}

answer lookup_address(const void* addr, int family)
{
    // A plain PTR query rather than ares_gethostbyaddr, which reports every failure as
    // ENOTFOUND and so would hide a SERVFAIL (glibc's EAI_AGAIN).
    char name[80];
    const auto* b = static_cast<const unsigned char*>(addr);
    if (family == AF_INET) {
        std::snprintf(name, sizeof name, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
    } else {
        char* p = name;
        for (int i = 15; i >= 0; --i)
            p += std::sprintf(p, "%x.%x.", b[i] & 0xf, b[i] >> 4);
        std::strcpy(p, "ip6.arpa");
    }
    struct ptr_query {
        request* r;
        unsigned char addr[16];
        int family;
    };
    return run([&](ares_channel ch, request* r) {
        auto* q = new ptr_query{r, {}, family};
        std::memcpy(q->addr, addr, family == AF_INET ? 4 : 16);
        ares_query(
            ch, name, ns_c_in, ns_t_ptr,
            [](void* arg, int status, int, unsigned char* abuf, int alen) {
                auto* q = static_cast<ptr_query*>(arg);
                answer a;
                a.result = outcome_of(status);
                hostent* h = nullptr;
                if (status == ARES_SUCCESS) {
                    int rc = ares_parse_ptr_reply(abuf, alen, q->addr, q->family == AF_INET ? 4 : 16,
                                                  q->family, &h);
                    a.result = outcome_of(rc);
                    if (rc == ARES_SUCCESS && h && h->h_name)
                        a.canonical = h->h_name;
                    if (h)
                        ares_free_hostent(h);
                }
                request* r = q->r;
                delete q;
                finish(r, std::move(a), status);
            },
            q);
    });
}

void shutdown_for_this_thread()
{
    if (hub* h = hub::current())
        shutdown_channel(*h);
}

void shutdown_channel(hub& h)
{
    channel* c = channel_of(h);
    if (!c)
        return;
    channel_of(h) = nullptr;
    internal_scope scope;
    // ares_destroy reports every socket closed through on_socket_state, which closes its
    // watch; the hub's teardown runs the loop once more, so the close callbacks run too.
    ares_destroy(c->ares);
    if (c->timer_ready)
        uv_close(reinterpret_cast<uv_handle_t*>(&c->timer),
                 [](uv_handle_t* h) { delete static_cast<channel*>(h->data); });
    else
        delete c;
}

void abandon_after_fork()
{
    hub* h = hub::current();
    channel* c = h ? channel_of(*h) : nullptr;
    if (!c)
        return;
    channel_of(*h) = nullptr;
    internal_scope scope;
    // The old loop is never run again: close the child's copies of the sockets, and leave
    // the channel's memory (c-ares would call back into that loop while destroying it).
    for (auto& [fd, w] : c->watches)
        fd_table::release_runtime_fd(fd);
}

}  // namespace green::resolver
