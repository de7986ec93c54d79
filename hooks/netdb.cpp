// getaddrinfo, getnameinfo, gethostbyname, gethostbyname2, gethostbyname_r, gethostbyname2_r,
// gethostbyaddr, gethostbyaddr_r: DNS through the hub's c-ares channel (runtime/resolver).
//
// Since glibc 2.34 the DNS traffic of these calls happens inside libc, out of the hooks' sight,
// so a green thread calling them would block its hub for a round trip. Here only the DNS part
// is replaced; everything that never touches the network is left to glibc itself, which is
// the simplest way to answer exactly as it does: numeric hosts and services, a null node,
// names and addresses in /etc/hosts (nsswitch "files" comes first), flag and family checks.
// For a DNS answer, glibc is still asked to build the entries for a numeric address of the
// same family with the program's service and hints (its socket type and protocol fan-out,
// port and AI_ADDRCONFIG decision), and those are copied for each address DNS returned.
//
// freeaddrinfo and gai_strerror are libc's: every addrinfo made here is laid out as glibc's
// (one malloc block holding the addrinfo and its sockaddr, ai_canonname a separate malloc on
// the first entry only), so glibc's freeaddrinfo frees it, as it must for a program that
// resolved freeaddrinfo before the library loaded.
//
// When /etc/nsswitch.conf lists hosts sources other than files and dns, or GREEN_RESOLVER is
// thread, glibc's own function runs on the offload pool while the green thread parks.
#include "hook.hpp"
#include "host_files.hpp"
#include "offload.hpp"
#include "resolver.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string>
#include <type_traits>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <vector>

using namespace green;

namespace {

// ---------------------------------------------------------------------------------------------
// Which way a lookup goes.

// dns: c-ares answers; files_then_dns: the same, unless /etc/hosts has the name or address.
enum class route { glibc_here, glibc_offloaded, dns, files_then_dns };

using host_files::hosts_policy;

// The first decision every hook makes: glibc in place (the caller may not park, the library
// is told to, or the lookup needs no network), glibc on a worker, or DNS on the hub.
route route_for_lookup()
{
    if (!hooks::green_caller() || preload::resolver == preload::resolver_mode::native)
        return route::glibc_here;
    if (preload::resolver == preload::resolver_mode::thread)
        return route::glibc_offloaded;
    switch (host_files::policy()) {
    case hosts_policy::files_then_dns: return route::files_then_dns;
    case hosts_policy::dns_only: return route::dns;
    case hosts_policy::files_only: return route::glibc_here;
    case hosts_policy::other: break;
    }
    return route::glibc_offloaded;
}

// Runs `call` on the offload pool and returns what it returned; errno and h_errno travel back.
template <class Call>
auto offloaded(Call&& call)
{
    using result_t = std::invoke_result_t<Call&>;
    using call_t = std::remove_reference_t<Call>;
    struct job {
        call_t* call;
        result_t result;
        int error;
        int herror;
    } j{&call, {}, 0, 0};
    offload::run(
        [](void* p) {
            auto* j = static_cast<job*>(p);
            errno = 0;
            j->result = (*j->call)();
            j->error = errno;
            j->herror = h_errno;
        },
        &j);
    errno = j.error;
    h_errno = j.herror;
    return j.result;
}

// ---------------------------------------------------------------------------------------------
// getaddrinfo

int real_getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res)
{
    return GREEN_REAL(getaddrinfo)(node, service, hints, res);
}

// glibc's entries for a numeric address of one family with the program's service and hints
// (AI_NUMERICHOST added, AI_CANONNAME removed): the socket types, protocols and port each DNS
// address gets, and whether AI_ADDRCONFIG lets that family through at all.
int template_for(const char* numeric, const char* service, const addrinfo* hints, addrinfo** out)
{
    addrinfo h{};
    if (hints)
        h = *hints;
    h.ai_flags = (h.ai_flags | AI_NUMERICHOST) & ~AI_CANONNAME;
    h.ai_addr = nullptr;
    h.ai_canonname = nullptr;
    h.ai_next = nullptr;
    return real_getaddrinfo(numeric, service, &h, out);
}

int eai_of(resolver::outcome o)
{
    switch (o) {
    case resolver::outcome::ok: return 0;
    case resolver::outcome::no_data: return EAI_NODATA;
    case resolver::outcome::try_again: return EAI_AGAIN;
    case resolver::outcome::not_found:
    case resolver::outcome::failed: break;
    }
    return EAI_NONAME;
}

// Appends glibc-shaped entries for `addr`, one per template entry, at *tail.
bool append_entries(const resolver::address& addr, const addrinfo* tmpl, int flags,
                    addrinfo**& tail)
{
    for (const addrinfo* t = tmpl; t; t = t->ai_next) {
        auto* ai = static_cast<addrinfo*>(std::malloc(sizeof(addrinfo) + t->ai_addrlen));
        if (!ai)
            return false;
        *ai = *t;
        ai->ai_flags = flags;
        ai->ai_addr = reinterpret_cast<sockaddr*>(ai + 1);
        std::memcpy(ai->ai_addr, t->ai_addr, t->ai_addrlen);
        ai->ai_canonname = nullptr;
        ai->ai_next = nullptr;
        if (t->ai_family == AF_INET) {
            std::memcpy(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, addr.bytes, 4);
        } else if (addr.family == AF_INET) {
            // An IPv4 answer for AF_INET6 with AI_V4MAPPED: ::ffff:a.b.c.d.
            auto* sin6 = reinterpret_cast<sockaddr_in6*>(ai->ai_addr);
            std::memset(&sin6->sin6_addr, 0, 16);
            sin6->sin6_addr.s6_addr[10] = sin6->sin6_addr.s6_addr[11] = 0xff;
            std::memcpy(&sin6->sin6_addr.s6_addr[12], addr.bytes, 4);
        } else {
            std::memcpy(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, addr.bytes, 16);
        }
        *tail = ai;
        tail = &ai->ai_next;
    }
    return true;
}

int dns_getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res)
{
    int family = hints ? hints->ai_family : AF_UNSPEC;
    int flags = hints ? hints->ai_flags : (AI_V4MAPPED | AI_ADDRCONFIG);

    addrinfo* tmpl4 = nullptr;
    addrinfo* tmpl6 = nullptr;
    int rc4 = EAI_FAMILY, rc6 = EAI_FAMILY;
    if (family == AF_UNSPEC || family == AF_INET)
        rc4 = template_for("0.0.0.0", service, hints, &tmpl4);
    if (family == AF_UNSPEC || family == AF_INET6)
        rc6 = template_for("::", service, hints, &tmpl6);
    auto free_templates = [&] {
        if (tmpl4)
            freeaddrinfo(tmpl4);
        if (tmpl6)
            freeaddrinfo(tmpl6);
    };
    if (rc4 != 0 && rc6 != 0) {
        // No family is possible: glibc's reason (a bad service, socket type, AI_ADDRCONFIG...).
        free_templates();
        return family == AF_INET6 ? rc6 : rc4;
    }

    std::vector<resolver::address> addresses;
    resolver::answer a;
    if (family == AF_INET6 && (flags & AI_V4MAPPED)) {
        // As glibc: AAAA first; A records too if there were none, or with AI_ALL.
        a = resolver::lookup_addrinfo(node, AF_INET6);
        addresses = a.addresses;
        if (addresses.empty() || (flags & AI_ALL)) {
            resolver::answer v4 = resolver::lookup_addrinfo(node, AF_INET);
            addresses.insert(addresses.end(), v4.addresses.begin(), v4.addresses.end());
            if (a.result != resolver::outcome::ok) {
                std::string canonical = a.canonical;
                a = v4;
                if (v4.result != resolver::outcome::ok && !canonical.empty())
                    a.canonical = canonical;
            }
        }
    } else {
        int ask = rc4 == 0 && rc6 == 0 ? AF_UNSPEC : rc4 == 0 ? AF_INET : AF_INET6;
        a = resolver::lookup_addrinfo(node, ask);
        addresses = a.addresses;
    }
    if (addresses.empty()) {
        free_templates();
        // glibc answers AF_INET without AI_CANONNAME through gethostbyname2_r, which reports a
        // failed server as "not found": EAI_NONAME, not EAI_AGAIN (measured, glibc 2.36).
        if (a.result == resolver::outcome::try_again && family == AF_INET &&
            !(flags & AI_CANONNAME))
            return EAI_NONAME;
        return a.result == resolver::outcome::ok ? EAI_NODATA : eai_of(a.result);
    }

    addrinfo* head = nullptr;
    addrinfo** tail = &head;
    bool ok = true;
    for (const resolver::address& addr : addresses) {
        const addrinfo* tmpl = addr.family == AF_INET6 || family == AF_INET6 ? tmpl6 : tmpl4;
        if (tmpl && !append_entries(addr, tmpl, flags, tail)) {
            ok = false;
            break;
        }
    }
    free_templates();
    if (ok && head && (flags & AI_CANONNAME)) {
        head->ai_canonname = strdup(a.canonical.empty() ? node : a.canonical.c_str());
        ok = head->ai_canonname != nullptr;
    }
    if (!ok) {
        if (head)
            freeaddrinfo(head);
        return EAI_MEMORY;
    }
    if (!head)
        return EAI_NONAME;
    *res = head;
    return 0;
}

bool is_ascii(const char* s)
{
    for (; *s; ++s)
        if (static_cast<unsigned char>(*s) >= 0x80)
            return false;
    return true;
}

// A canonical name glibc would turn back into Unicode under AI_CANONIDN: one with an
// IDNA-encoded label.
bool has_idna_label(const char* name)
{
    for (const char* label = name; label; label = std::strchr(label, '.')) {
        if (*label == '.')
            ++label;
        if (strncasecmp(label, "xn--", 4) == 0)
            return true;
    }
    return false;
}

int green_getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                      addrinfo** res);

// AI_IDN and AI_CANONIDN (getent asks for both) change nothing for an ASCII name whose
// canonical name has no IDNA label: glibc's encoding and decoding copy such names as they are.
// Those lookups take the green path without the flags, which the answers then carry again, as
// glibc's do. A name that needs encoding (libidn2), or a canonical name that needs decoding,
// is glibc's own, on a worker.
int idn_getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                    addrinfo** res)
{
    route r = route_for_lookup();
    if (r == route::glibc_here)
        return real_getaddrinfo(node, service, hints, res);
    auto by_glibc = [&] {
        return offloaded([&] { return real_getaddrinfo(node, service, hints, res); });
    };
    if (r == route::glibc_offloaded || !is_ascii(node))
        return by_glibc();
    addrinfo plain = *hints;
    plain.ai_flags &= ~(AI_IDN | AI_CANONIDN);
    int rc = green_getaddrinfo(node, service, &plain, res);
    if (rc != 0)
        return rc;
    if ((hints->ai_flags & AI_CANONIDN) && (*res)->ai_canonname &&
        has_idna_label((*res)->ai_canonname)) {
        freeaddrinfo(*res);
        *res = nullptr;
        return by_glibc();
    }
    for (addrinfo* ai = *res; ai; ai = ai->ai_next)
        ai->ai_flags = hints->ai_flags;
    return 0;
}

int green_getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                      addrinfo** res)
{
    int flags = hints ? hints->ai_flags : 0;
    // No name to look up, or one glibc handles without DNS.
    if (!node || (flags & AI_NUMERICHOST) || std::strchr(node, ':') || std::strchr(node, '%'))
        return real_getaddrinfo(node, service, hints, res);
    if (flags & (AI_IDN | AI_CANONIDN))
        return idn_getaddrinfo(node, service, hints, res);

    // A numeric address, or an error glibc reports before any lookup (bad flags, family,
    // socket type, service): glibc's own answer, found without the network.
    addrinfo numeric{};
    if (hints)
        numeric = *hints;
    numeric.ai_flags |= AI_NUMERICHOST;
    int rc = real_getaddrinfo(node, service, &numeric, res);
    if (rc == 0) {
        for (addrinfo* ai = *res; ai; ai = ai->ai_next)
            ai->ai_flags = flags;  // glibc copies the flags it was given, AI_NUMERICHOST included
        return 0;
    }
    if (rc != EAI_NONAME)
        return rc;

    route r = route_for_lookup();
    if (r == route::glibc_here ||
        (r == route::files_then_dns && host_files::has_name(node)))
        return real_getaddrinfo(node, service, hints, res);
    if (r == route::glibc_offloaded)
        return offloaded([&] { return real_getaddrinfo(node, service, hints, res); });
    return dns_getaddrinfo(node, service, hints, res);
}

// ---------------------------------------------------------------------------------------------
// getnameinfo

int real_getnameinfo(const sockaddr* sa, socklen_t salen, char* host, socklen_t hostlen,
                     char* serv, socklen_t servlen, int flags)
{
    return GREEN_REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
}

int green_getnameinfo(const sockaddr* sa, socklen_t salen, char* host, socklen_t hostlen,
                      char* serv, socklen_t servlen, int flags)
{
    // Only a host name lookup of a plain IPv4 or IPv6 address can need DNS. NI_NOFQDN asks
    // glibc for the local domain, which may itself be a lookup: glibc's, on a worker.
    bool v4 = sa && sa->sa_family == AF_INET && salen >= socklen_t(sizeof(sockaddr_in));
    bool v6 = sa && sa->sa_family == AF_INET6 && salen >= socklen_t(sizeof(sockaddr_in6));
    if (!host || hostlen == 0 || (flags & NI_NUMERICHOST) || !(v4 || v6))
        return real_getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
    const void* addr = v4 ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(sa)->sin_addr)
                          : &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    const auto* a6 = static_cast<const in6_addr*>(addr);
    route r = route_for_lookup();
    if ((r == route::dns || r == route::files_then_dns) && (flags & NI_NOFQDN))
        r = route::glibc_offloaded;
    // Mapped, compatible and scoped IPv6 addresses take special paths in glibc.
    if ((r == route::dns || r == route::files_then_dns) && v6 &&
        (IN6_IS_ADDR_V4MAPPED(a6) || IN6_IS_ADDR_V4COMPAT(a6) || IN6_IS_ADDR_LINKLOCAL(a6) ||
         IN6_IS_ADDR_MC_LINKLOCAL(a6)))
        r = route::glibc_offloaded;
    if (r == route::glibc_here ||
        (r == route::files_then_dns && host_files::has_address(addr, sa->sa_family)))
        return real_getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
    if (r == route::glibc_offloaded)
        return offloaded(
            [&] { return real_getnameinfo(sa, salen, host, hostlen, serv, servlen, flags); });

    // As glibc: the host part first (the PTR name, or the numeric form unless NI_NAMEREQD),
    // then the service, which glibc writes from /etc/services as usual.
    resolver::answer a = resolver::lookup_address(addr, sa->sa_family);
    if (a.result == resolver::outcome::ok && !a.canonical.empty()) {
        if (a.canonical.size() + 1 > hostlen)
            return EAI_OVERFLOW;
        std::memcpy(host, a.canonical.c_str(), a.canonical.size() + 1);
    } else if (flags & NI_NAMEREQD) {
        return a.result == resolver::outcome::try_again ? EAI_AGAIN : EAI_NONAME;
    } else {
        int rc = real_getnameinfo(sa, salen, host, hostlen, nullptr, 0,
                                  (flags | NI_NUMERICHOST) & ~NI_NAMEREQD);
        if (rc != 0)
            return rc;
    }
    if (serv && servlen)
        return real_getnameinfo(sa, salen, nullptr, 0, serv, servlen, flags);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// The gethostbyname family

// Copies a DNS answer into the caller's hostent and buffer, as glibc lays it out: aliases and
// address pointers in the buffer, then the addresses, then the strings. ERANGE when it does
// not fit (glibc's callers grow the buffer and call again).
int fill_hostent(const resolver::answer& a, const char* fallback_name, int family, hostent* ret,
                 char* buf, std::size_t buflen)
{
    std::size_t addr_len = family == AF_INET ? 4 : 16;
    std::size_t n_alias = a.aliases.size();
    std::size_t n_addr = a.addresses.size();
    const std::string name = a.canonical.empty() ? fallback_name : a.canonical;
    // Pointers first (aligned), then the addresses, then the strings.
    std::uintptr_t base = reinterpret_cast<std::uintptr_t>(buf);
    std::size_t pad = (alignof(char*) - base % alignof(char*)) % alignof(char*);
    std::size_t need = pad + (n_alias + 1 + n_addr + 1) * sizeof(char*) + n_addr * addr_len +
                       name.size() + 1;
    for (const std::string& s : a.aliases)
        need += s.size() + 1;
    if (need > buflen)
        return ERANGE;
    char** aliases = reinterpret_cast<char**>(buf + pad);
    char** addrs = aliases + n_alias + 1;
    char* p = reinterpret_cast<char*>(addrs + n_addr + 1);
    for (std::size_t i = 0; i < n_addr; ++i) {
        std::memcpy(p, a.addresses[i].bytes, addr_len);
        addrs[i] = p;
        p += addr_len;
    }
    addrs[n_addr] = nullptr;
    auto copy = [&p](const std::string& s) {
        char* start = p;
        std::memcpy(p, s.c_str(), s.size() + 1);
        p += s.size() + 1;
        return start;
    };
    ret->h_name = copy(name);
    for (std::size_t i = 0; i < n_alias; ++i)
        aliases[i] = copy(a.aliases[i]);
    aliases[n_alias] = nullptr;
    ret->h_aliases = aliases;
    ret->h_addrtype = family;
    ret->h_length = int(addr_len);
    ret->h_addr_list = addrs;
    return 0;
}

// glibc's reentrant convention, as measured against glibc 2.36 (tests/dns/netns_diff.sh): 0
// with *result set on success; 0 with *result null and *h_errnop HOST_NOT_FOUND, NO_DATA or
// TRY_AGAIN when the lookup failed; ERANGE with NETDB_INTERNAL for a short buffer.
int finish_reentrant(const resolver::answer& a, const char* name, int family, hostent* ret,
                     char* buf, std::size_t buflen, hostent** result, int* h_errnop)
{
    *result = nullptr;
    switch (a.result) {
    case resolver::outcome::ok: break;
    case resolver::outcome::no_data: *h_errnop = NO_DATA; return 0;
    case resolver::outcome::not_found: *h_errnop = HOST_NOT_FOUND; return 0;
    case resolver::outcome::try_again: *h_errnop = TRY_AGAIN; return 0;  // glibc: 0, not EAGAIN
    case resolver::outcome::failed: *h_errnop = NO_RECOVERY; return 0;
    }
    if (a.addresses.empty()) {
        *h_errnop = NO_DATA;
        return 0;
    }
    int rc = fill_hostent(a, name, family, ret, buf, buflen);
    if (rc != 0) {
        *h_errnop = NETDB_INTERNAL;
        errno = rc;
        return rc;
    }
    *h_errnop = NETDB_SUCCESS;
    *result = ret;
    return 0;
}

// glibc's dns module refuses a tiny buffer with ERANGE before it asks anything (whether the
// name exists or not); the exact threshold is glibc's internal layout, this is an
// approximation that covers the buffers programs pass by mistake (README).
constexpr std::size_t min_dns_buffer = 64;

int short_buffer(hostent** result, int* h_errnop)
{
    *result = nullptr;
    *h_errnop = NETDB_INTERNAL;
    errno = ERANGE;
    return ERANGE;
}

// A name glibc turns into an address without asking anyone (__nss_hostname_digits_dots):
// only digits and dots, or anything with a colon.
bool numeric_looking(const char* name)
{
    return std::strchr(name, ':') || name[std::strspn(name, "0123456789.")] == '\0';
}

int green_gethostbyname2_r(const char* name, int af, hostent* ret, char* buf, size_t buflen,
                           hostent** result, int* h_errnop)
{
    auto real = [&] {
        return GREEN_REAL(gethostbyname2_r)(name, af, ret, buf, buflen, result, h_errnop);
    };
    if (!name || (af != AF_INET && af != AF_INET6) || numeric_looking(name))
        return real();
    route r = route_for_lookup();
    if (r == route::glibc_here || (r == route::files_then_dns && host_files::has_name(name)))
        return real();
    if (r == route::glibc_offloaded)
        return offloaded(real);
    if (buflen < min_dns_buffer)
        return short_buffer(result, h_errnop);
    resolver::answer a = resolver::lookup_hostent(name, af);
    return finish_reentrant(a, name, af, ret, buf, buflen, result, h_errnop);
}

int green_gethostbyaddr_r(const void* addr, socklen_t len, int type, hostent* ret, char* buf,
                          size_t buflen, hostent** result, int* h_errnop)
{
    auto real = [&] {
        return GREEN_REAL(gethostbyaddr_r)(addr, len, type, ret, buf, buflen, result, h_errnop);
    };
    bool plain = addr && ((type == AF_INET && len == 4) || (type == AF_INET6 && len == 16));
    if (plain && type == AF_INET6) {
        const auto* a6 = static_cast<const in6_addr*>(addr);
        plain = !IN6_IS_ADDR_V4MAPPED(a6) && !IN6_IS_ADDR_V4COMPAT(a6) &&
                !IN6_IS_ADDR_UNSPECIFIED(a6);
    }
    if (!plain)
        return real();
    route r = route_for_lookup();
    if (r == route::glibc_here || (r == route::files_then_dns && host_files::has_address(addr, type)))
        return real();
    if (r == route::glibc_offloaded)
        return offloaded(real);
    if (buflen < min_dns_buffer)
        return short_buffer(result, h_errnop);
    resolver::answer ptr = resolver::lookup_address(addr, type);
    // The hostent of a reverse lookup holds the PTR name and the address asked about.
    if (ptr.result == resolver::outcome::ok) {
        ptr.addresses.clear();
        resolver::address self;
        self.family = type;
        std::memcpy(self.bytes, addr, len);
        ptr.addresses.push_back(self);
    }
    return finish_reentrant(ptr, "", type, ret, buf, buflen, result, h_errnop);
}

// The non-reentrant calls keep one buffer per thread, in a pthread key: under green threads
// that is one per green thread, so one green thread's answer is never overwritten by
// another's call. (glibc keeps a single static buffer per process.)
struct static_hostent {
    hostent ent;
    std::size_t size;
    char* buf;
};

pthread_key_t hostent_key;
pthread_once_t hostent_once = PTHREAD_ONCE_INIT;

static_hostent* this_thread_hostent()
{
    pthread_once(&hostent_once, [] {
        pthread_key_create(&hostent_key, [](void* p) {
            auto* s = static_cast<static_hostent*>(p);
            std::free(s->buf);
            std::free(s);
        });
    });
    auto* s = static_cast<static_hostent*>(pthread_getspecific(hostent_key));
    if (!s) {
        s = static_cast<static_hostent*>(std::calloc(1, sizeof(static_hostent)));
        if (s)
            pthread_setspecific(hostent_key, s);
    }
    return s;
}

// Calls a reentrant variant with the thread's buffer, growing it on ERANGE as glibc does.
template <class Reentrant>
hostent* non_reentrant(Reentrant&& call)
{
    static_hostent* s = this_thread_hostent();
    if (!s) {
        h_errno = NETDB_INTERNAL;
        errno = ENOMEM;
        return nullptr;
    }
    for (;;) {
        if (!s->buf) {
            s->size = 1024;
            s->buf = static_cast<char*>(std::malloc(s->size));
            if (!s->buf) {
                h_errno = NETDB_INTERNAL;
                return nullptr;
            }
        }
        hostent* result = nullptr;
        int herr = 0;
        int rc = call(&s->ent, s->buf, s->size, &result, &herr);
        if (rc == ERANGE && herr == NETDB_INTERNAL) {
            char* bigger = static_cast<char*>(std::realloc(s->buf, s->size * 2));
            if (!bigger) {
                h_errno = NETDB_INTERNAL;
                errno = ENOMEM;
                return nullptr;
            }
            s->buf = bigger;
            s->size *= 2;
            continue;
        }
        h_errno = herr;
        return result;
    }
}

}  // namespace

GREEN_HOOK int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                           struct addrinfo** res)
{
    if (!hooks::green_caller() || preload::resolver == preload::resolver_mode::native)
        return real_getaddrinfo(node, service, hints, res);
    return green_getaddrinfo(node, service, hints, res);
}

GREEN_HOOK int getnameinfo(const struct sockaddr* sa, socklen_t salen, char* host,
                           socklen_t hostlen, char* serv, socklen_t servlen, int flags)
{
    if (!hooks::green_caller() || preload::resolver == preload::resolver_mode::native)
        return real_getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
    return green_getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
}

GREEN_HOOK int gethostbyname2_r(const char* name, int af, struct hostent* ret, char* buf,
                                size_t buflen, struct hostent** result, int* h_errnop)
{
    if (!hooks::green_caller() || preload::resolver == preload::resolver_mode::native)
        return GREEN_REAL(gethostbyname2_r)(name, af, ret, buf, buflen, result, h_errnop);
    return green_gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
}

GREEN_HOOK int gethostbyname_r(const char* name, struct hostent* ret, char* buf, size_t buflen,
                               struct hostent** result, int* h_errnop)
{
    if (!hooks::green_caller() || preload::resolver == preload::resolver_mode::native)
        return GREEN_REAL(gethostbyname_r)(name, ret, buf, buflen, result, h_errnop);
    return green_gethostbyname2_r(name, AF_INET, ret, buf, buflen, result, h_errnop);
}

GREEN_HOOK int gethostbyaddr_r(const void* addr, socklen_t len, int type, struct hostent* ret,
                               char* buf, size_t buflen, struct hostent** result, int* h_errnop)
{
    if (!hooks::green_caller() || preload::resolver == preload::resolver_mode::native)
        return GREEN_REAL(gethostbyaddr_r)(addr, len, type, ret, buf, buflen, result, h_errnop);
    return green_gethostbyaddr_r(addr, len, type, ret, buf, buflen, result, h_errnop);
}

GREEN_HOOK struct hostent* gethostbyname2(const char* name, int af)
{
    if (!hooks::green_caller() || preload::resolver == preload::resolver_mode::native)
        return GREEN_REAL(gethostbyname2)(name, af);
    return non_reentrant([&](hostent* ret, char* buf, size_t len, hostent** result, int* herr) {
        return green_gethostbyname2_r(name, af, ret, buf, len, result, herr);
    });
}

GREEN_HOOK struct hostent* gethostbyname(const char* name)
{
    if (!hooks::green_caller() || preload::resolver == preload::resolver_mode::native)
        return GREEN_REAL(gethostbyname)(name);
    return non_reentrant([&](hostent* ret, char* buf, size_t len, hostent** result, int* herr) {
        return green_gethostbyname2_r(name, AF_INET, ret, buf, len, result, herr);
    });
}

GREEN_HOOK struct hostent* gethostbyaddr(const void* addr, socklen_t len, int type)
{
    if (!hooks::green_caller() || preload::resolver == preload::resolver_mode::native)
        return GREEN_REAL(gethostbyaddr)(addr, len, type);
    return non_reentrant([&](hostent* ret, char* buf, size_t blen, hostent** result, int* herr) {
        return green_gethostbyaddr_r(addr, len, type, ret, buf, blen, result, herr);
    });
}
