// Name lookups in DNS that park the calling fiber instead of blocking its thread: a c-ares
// channel per hub, driven by the hub's libuv loop (a uv_poll per c-ares socket, one uv_timer
// for c-ares's retransmission deadlines), so that hundreds of lookups on one hub are in
// flight at once.
//
// Only DNS is asked here (c-ares's "lookups" set to "b"): /etc/hosts, numeric addresses and
// the nsswitch policy are the caller's business, as is turning answers into what libc returns.
// The channel reads /etc/resolv.conf (search, ndots, timeout, attempts, rotate) and the
// LOCALDOMAIN and RES_OPTIONS variables when it is made; `configure` can replace the servers.
//
// The c-ares sockets are the runtime's own fds (fd_table::adopt_runtime_fd): close-on-exec,
// at high numbers, invisible to the program. Every call into c-ares runs inside
// internal_scope, so the libc calls c-ares makes are never taken for the program's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace green::resolver {

struct settings {
    // Name servers as "host[:port],..." (IPv6 as "[addr]:port"); empty: /etc/resolv.conf's.
    std::string servers;
};

// Before the first lookup (at start-up). Returns false if c-ares rejects `servers`.
bool configure(const settings& s);

enum class outcome {
    ok,
    not_found,  // NXDOMAIN: the name does not exist
    no_data,    // the name exists, without records of the asked type
    try_again,  // SERVFAIL, REFUSED, a timeout, or no server reachable
    failed,     // a malformed name or reply, out of memory
};

struct address {
    int family = 0;  // AF_INET or AF_INET6
    unsigned char bytes[16] = {};
};

struct answer {
    outcome result = outcome::failed;
    std::vector<address> addresses;    // as the lookup orders them (see each function)
    std::string canonical;             // the name the addresses belong to, after CNAMEs
    std::vector<std::string> aliases;  // the names on the CNAME chain (hostent's h_aliases)
};

// Each of these parks the running fiber (the caller must be allowed to park: green::may_park)
// until the answer is in, and may be called from any number of fibers of one hub at once.

// A and/or AAAA records (family AF_INET, AF_INET6 or AF_UNSPEC) with the search list applied,
// addresses sorted by destination address selection (RFC 6724) as c-ares does it; `canonical`
// is set, `aliases` is not.
answer lookup_addrinfo(const char* name, int family);

// A or AAAA records (family AF_INET or AF_INET6) in the order of the reply, with the search
// list applied, `canonical` and `aliases` as gethostbyname reports them.
answer lookup_hostent(const char* name, int family);

// The PTR name of an address (`canonical`) and the aliases of the reply.
answer lookup_address(const void* addr, int family);

// Closes the calling thread's channel and its sockets (thread exit). No lookup may be in flight.
void shutdown_for_this_thread();

// In the child of fork(): the inherited channel's sockets are shared with the parent; they
// are closed and the next lookup makes a fresh channel.
void abandon_after_fork();

}  // namespace green::resolver
