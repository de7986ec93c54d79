/* The differential test of name resolution: getaddrinfo, getnameinfo and the gethostbyname
 * family over a matrix of names, services, families, socket types and flags, every field of
 * every answer printed in order. compare.py runs it natively and under libgreen.so and the
 * transcripts must be identical.
 *
 * Without arguments it only asks for names that never leave the machine (numeric addresses,
 * names in /etc/hosts), so it is safe anywhere. With --dns it asks for the test server's
 * names too: tests/dns/netns_diff.sh runs it so, in a network and mount namespace of its own
 * where /etc/resolv.conf points at the test server on 127.0.0.1:53, so that glibc's own
 * resolver is compared with c-ares on the hub.
 */
#define _GNU_SOURCE
#include "../preload/transcript.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

static const char *family_name(int f)
{
    switch (f) {
    case AF_UNSPEC: return "AF_UNSPEC";
    case AF_INET: return "AF_INET";
    case AF_INET6: return "AF_INET6";
    case AF_UNIX: return "AF_UNIX";
    default: return "AF_?";
    }
}

static const char *eai_name(int rc)
{
    switch (rc) {
    case 0: return "0";
    case EAI_BADFLAGS: return "EAI_BADFLAGS";
    case EAI_NONAME: return "EAI_NONAME";
    case EAI_AGAIN: return "EAI_AGAIN";
    case EAI_FAIL: return "EAI_FAIL";
    case EAI_FAMILY: return "EAI_FAMILY";
    case EAI_SOCKTYPE: return "EAI_SOCKTYPE";
    case EAI_SERVICE: return "EAI_SERVICE";
    case EAI_MEMORY: return "EAI_MEMORY";
    case EAI_SYSTEM: return "EAI_SYSTEM";
    case EAI_OVERFLOW: return "EAI_OVERFLOW";
    case EAI_NODATA: return "EAI_NODATA";
    case EAI_ADDRFAMILY: return "EAI_ADDRFAMILY";
    default: return "EAI_?";
    }
}

static void show_sockaddr(const struct sockaddr *sa, socklen_t len)
{
    char buf[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET && len == sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s = (const void *)sa;
        inet_ntop(AF_INET, &s->sin_addr, buf, sizeof buf);
        printf("%s port %u zero %s", buf, ntohs(s->sin_port),
               yesno(!memcmp(s->sin_zero, "\0\0\0\0\0\0\0\0", 8)));
    } else if (sa->sa_family == AF_INET6 && len == sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s = (const void *)sa;
        inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof buf);
        printf("[%s] port %u flow %u scope %u", buf, ntohs(s->sin6_port), s->sin6_flowinfo,
               s->sin6_scope_id);
    } else {
        printf("family %d len %u", sa->sa_family, (unsigned)len);
    }
}

static void gai(const char *node, const char *service, int family, int socktype, int protocol,
                int flags)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    hints.ai_protocol = protocol;
    hints.ai_flags = flags;
    errno = 0;
    int rc = getaddrinfo(node, service, &hints, &res);
    printf("getaddrinfo(%s, %s, %s, type %d, proto %d, flags %#x) = %s", node ? node : "NULL",
           service ? service : "NULL", family_name(family), socktype, protocol, flags,
           eai_name(rc));
    if (rc == EAI_SYSTEM)
        printf(" %s", errno_name(errno));
    printf("\n");
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        printf("  flags %#x %s type %d proto %d len %u ", ai->ai_flags, family_name(ai->ai_family),
               ai->ai_socktype, ai->ai_protocol, (unsigned)ai->ai_addrlen);
        show_sockaddr(ai->ai_addr, ai->ai_addrlen);
        /* glibc keeps each sockaddr in its addrinfo's own block: freeaddrinfo relies on it. */
        printf(" inline %s", yesno((char *)ai->ai_addr == (char *)(ai + 1)));
        if (ai->ai_canonname)
            printf(" canon %s", ai->ai_canonname);
        printf("\n");
    }
    if (rc == 0)
        freeaddrinfo(res);
    fflush(stdout);
}

static void matrix(const char *node)
{
    static const int families[] = {AF_UNSPEC, AF_INET, AF_INET6};
    static const int flag_sets[] = {0,
                                    AI_CANONNAME,
                                    AI_PASSIVE,
                                    AI_NUMERICHOST,
                                    AI_ADDRCONFIG,
                                    AI_V4MAPPED,
                                    AI_V4MAPPED | AI_ALL,
                                    AI_CANONNAME | AI_V4MAPPED | AI_ALL | AI_ADDRCONFIG,
                                    AI_IDN | AI_CANONIDN | AI_CANONNAME};
    for (size_t f = 0; f < sizeof families / sizeof *families; f++)
        for (size_t g = 0; g < sizeof flag_sets / sizeof *flag_sets; g++)
            gai(node, NULL, families[f], 0, 0, flag_sets[g]);
    gai(node, "http", AF_UNSPEC, 0, 0, 0);
    gai(node, "80", AF_INET, SOCK_STREAM, 0, AI_NUMERICSERV);
    gai(node, "http", AF_INET, SOCK_STREAM, 0, AI_NUMERICSERV);
    gai(node, "domain", AF_UNSPEC, SOCK_DGRAM, 0, 0);
    gai(node, "nosuchservice", AF_UNSPEC, 0, 0, 0);
    gai(node, "80", AF_INET, SOCK_RAW, 0, 0);
    gai(node, NULL, AF_INET, SOCK_RAW, 0, 0);
    gai(node, NULL, AF_INET, 0, IPPROTO_UDP, 0);
    gai(node, "53", AF_INET6, SOCK_SEQPACKET, 0, 0);
    gai(node, NULL, AF_UNIX, 0, 0, 0);
    gai(node, NULL, AF_UNSPEC, 0, 0, 0x10000);
}

static void gni(const char *text, int port, int flags, socklen_t hostlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (strchr(text, ':')) {
        struct sockaddr_in6 *s = (void *)&ss;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(port);
        inet_pton(AF_INET6, text, &s->sin6_addr);
        len = sizeof *s;
    } else {
        struct sockaddr_in *s = (void *)&ss;
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        inet_pton(AF_INET, text, &s->sin_addr);
        len = sizeof *s;
    }
    char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
    int rc = getnameinfo((struct sockaddr *)&ss, len, host, hostlen, serv, sizeof serv, flags);
    printf("getnameinfo(%s, %d, flags %#x, hostlen %u) = %s host '%s' serv '%s'\n", text, port,
           flags, (unsigned)hostlen, eai_name(rc), rc == 0 ? host : "", rc == 0 ? serv : "");
    fflush(stdout);
}

static void show_hostent(const char *what, const struct hostent *h, int herr)
{
    printf("%s = %s", what, h ? "hostent" : "NULL");
    if (!h) {
        printf(" h_errno %d\n", herr);
        fflush(stdout);
        return;
    }
    printf(" name %s type %s len %d", h->h_name, family_name(h->h_addrtype), h->h_length);
    for (char **a = h->h_aliases; *a; a++)
        printf(" alias %s", *a);
    for (char **a = h->h_addr_list; *a; a++) {
        char buf[INET6_ADDRSTRLEN];
        inet_ntop(h->h_addrtype, *a, buf, sizeof buf);
        printf(" addr %s", buf);
    }
    printf("\n");
    fflush(stdout);
}

static void ghbn(const char *name)
{
    char what[256];
    struct hostent *h = gethostbyname(name);
    snprintf(what, sizeof what, "gethostbyname(%s)", name);
    show_hostent(what, h, h_errno);
    h = gethostbyname2(name, AF_INET6);
    snprintf(what, sizeof what, "gethostbyname2(%s, AF_INET6)", name);
    show_hostent(what, h, h_errno);

    struct hostent ent, *result = NULL;
    char buf[1024];
    int herr = 0;
    int rc = gethostbyname_r(name, &ent, buf, sizeof buf, &result, &herr);
    snprintf(what, sizeof what, "gethostbyname_r(%s) rc %s", name, rc ? errno_name(rc) : "0");
    show_hostent(what, result, herr);
    char tiny[8];
    rc = gethostbyname2_r(name, AF_INET, &ent, tiny, sizeof tiny, &result, &herr);
    printf("gethostbyname2_r(%s, AF_INET, 8-byte buffer) rc %s result %s h_errno %d\n", name,
           rc ? errno_name(rc) : "0", result ? "set" : "NULL", herr);
    fflush(stdout);
}

static void ghba(const char *text)
{
    unsigned char addr[16];
    int family = strchr(text, ':') ? AF_INET6 : AF_INET;
    inet_pton(family, text, addr);
    char what[128];
    snprintf(what, sizeof what, "gethostbyaddr(%s)", text);
    struct hostent *h = gethostbyaddr(addr, family == AF_INET ? 4 : 16, family);
    show_hostent(what, h, h_errno);
    struct hostent ent, *result = NULL;
    char buf[1024];
    int herr = 0;
    int rc = gethostbyaddr_r(addr, family == AF_INET ? 4 : 16, family, &ent, buf, sizeof buf,
                             &result, &herr);
    snprintf(what, sizeof what, "gethostbyaddr_r(%s) rc %s", text, rc ? errno_name(rc) : "0");
    show_hostent(what, result, herr);
}

int main(int argc, char **argv)
{
    int dns = argc > 1 && strcmp(argv[1], "--dns") == 0;

    /* Numeric names never leave the machine; names of /etc/hosts may (a family the file
     * lacks goes on to DNS), so they are asked only with --dns, in the test's namespace. */
    const char *local[] = {"127.0.0.1", "127.1", "0x7f.1", "::1", "::ffff:127.0.0.1", "1.2.3.4",
                           "fe80::1%1", "fe80::1%nosuchif", "2001:db8::5", "localhost",
                           "LOCALHOST"};
    for (size_t i = 0; i < sizeof local / sizeof *local - (dns ? 0 : 2); i++)
        matrix(local[i]);
    gai(NULL, "80", AF_UNSPEC, SOCK_STREAM, 0, 0);
    gai(NULL, "80", AF_UNSPEC, SOCK_STREAM, 0, AI_PASSIVE);
    gai(NULL, NULL, AF_UNSPEC, 0, 0, 0);
    gai(NULL, "http", AF_INET6, 0, 0, AI_PASSIVE | AI_CANONNAME);
    gai("", "80", AF_UNSPEC, 0, 0, 0);

    gni("127.0.0.1", 80, NI_NUMERICHOST | NI_NUMERICSERV, NI_MAXHOST);
    gni("::1", 443, NI_NUMERICHOST, NI_MAXHOST);
    ghbn("127.0.0.1");

    if (dns) {
        gni("127.0.0.1", 80, 0, NI_MAXHOST);
        gni("127.0.0.1", 53, NI_DGRAM | NI_NAMEREQD, NI_MAXHOST);
        gni("127.0.0.1", 80, 0, 4);
        gni("::1", 443, NI_NUMERICSERV, NI_MAXHOST);
        ghbn("localhost");
        ghba("127.0.0.1");
        const char *names[] = {"host.test", "alias2.test", "multi.test", "dual.test",
                               "v4only.test", "v6only.test", "empty.test", "nx.test",
                               "x.servfail.test", "host", "web.test."};
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
            gai(names[i], NULL, AF_INET, 0, 0, 0);
            gai(names[i], NULL, AF_INET, 0, 0, AI_CANONNAME);
            gai(names[i], "http", AF_INET6, SOCK_STREAM, 0, AI_CANONNAME);
            gai(names[i], NULL, AF_INET6, SOCK_DGRAM, 0, AI_V4MAPPED);
            gai(names[i], NULL, AF_INET6, SOCK_DGRAM, 0, AI_V4MAPPED | AI_ALL);
            gai(names[i], "nosuchservice", AF_INET, 0, 0, 0);
            /* getent's flags: IDN encoding of ASCII names changes nothing, flags come back. */
            gai(names[i], NULL, AF_INET, SOCK_STREAM, 0, AI_IDN | AI_CANONIDN | AI_CANONNAME);
            gai(names[i], NULL, AF_INET6, 0, 0, AI_IDN | AI_V4MAPPED);
            ghbn(names[i]);
        }
        /* AF_UNSPEC where RFC 6724 orderings agree (README: where they differ). */
        gai("dual.test", "80", AF_UNSPEC, SOCK_STREAM, 0, AI_CANONNAME);
        gai("v4only.test", NULL, AF_UNSPEC, 0, 0, 0);
        gai("nx.test", NULL, AF_UNSPEC, 0, 0, 0);
        gai("empty.test", NULL, AF_UNSPEC, 0, 0, 0);
        gai("x.servfail.test", NULL, AF_UNSPEC, 0, 0, 0);
        gni("192.0.2.1", 80, 0, NI_MAXHOST);
        gni("192.0.2.1", 80, NI_NAMEREQD, 4);
        gni("192.0.2.200", 80, 0, NI_MAXHOST);
        gni("192.0.2.200", 80, NI_NAMEREQD, NI_MAXHOST);
        gni("192.0.2.9", 80, NI_NAMEREQD, NI_MAXHOST);
        gni("2001:db8::1", 80, NI_NUMERICSERV, NI_MAXHOST);
        ghba("192.0.2.1");
        ghba("192.0.2.4");
        ghba("192.0.2.200");
        ghba("2001:db8::1");
    }
    return 0;
}
