#!/usr/bin/env bash
# Name resolution by stock programs: getent, curl and a threaded python3 resolve names that only
# the test DNS server (tests/dns/dns_server.py) knows, natively and under green-run. The case
# runs in a user, network and mount namespace of its own, where the only network is a private
# loopback and /etc/resolv.conf is bind-mounted to name only the test server, so glibc and
# c-ares ask the same server and no query leaves the machine. Exit 77 (skipped) where such
# namespaces are not allowed.
if [[ -z ${GREEN_DNS_IN_NAMESPACE:-} ]]; then
  if ! unshare -rnm true 2>/dev/null; then
    echo "skipped: this system does not allow unprivileged user and network namespaces"
    exit 77
  fi
  GREEN_DNS_IN_NAMESPACE=1 exec unshare -rnm bash "$0" "$@"
fi
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

ip link set lo up
printf 'nameserver 127.0.0.1\nsearch test\noptions timeout:1 attempts:2\n' >"$TMP/resolv.conf"
mount --bind "$TMP/resolv.conf" /etc/resolv.conf
unset RES_OPTIONS LOCALDOMAIN GREEN_DNS_SERVERS GREEN_RESOLVER

timeout -k 5 100 python3 "$HERE/../dns/dns_server.py" --port 53 --delay 200 \
  --port-file "$TMP/dns.port" >"$TMP/dns.log" 2>&1 &
SERVER_PIDS+=($!)
wait_file "$TMP/dns.port" >/dev/null

mkdir "$TMP/www"
printf 'served to a client that found web.test through the test DNS server\n' >"$TMP/www/hello.txt"
port=$(free_port)
start_server http "$port" python3 -m http.server --bind 127.0.0.1 --directory "$TMP/www" "$port"

# getent: getaddrinfo with IDN flags (ahosts), gethostbyname2 (hosts), a CNAME, several
# addresses, IPv6, the search list, an NXDOMAIN (exit 2). The namespace has loopback only, so
# the AF_INET and AF_INET6 forms (ahostsv4, AI_ADDRCONFIG) find nothing, natively too.
run_both getent-ahosts getent ahosts web.test
run_both getent-ahosts-cname getent ahosts www.test
run_both getent-ahosts-multi getent ahosts multi.test
run_both getent-hosts-multi getent hosts multi.test
run_both getent-hosts-v6 getent hosts v6only.test
run_both getent-hosts-search-list getent hosts v4only
run_both getent-nxdomain getent ahosts nosuch.test
run_both getent-hosts-nxdomain getent hosts nosuch.test
for label in getent-ahosts getent-ahosts-cname getent-hosts-multi; do
  expect_stat "$label" parks 1
done

# curl resolves in a thread of its own (a green thread under green-run), then fetches.
run_both curl-by-name curl -sS "http://web.test:$port/hello.txt"
run_both curl-cname curl -sS "http://www.test:$port/hello.txt"
run_both curl-unknown-name curl -sS "http://nosuch.test:$port/"

# 100 python threads, each waiting 200 ms for its answer, on one hub thread when green. The
# OS thread count goes to stderr, and differs by design; stdout says whether the lookups were
# in flight together.
no_thread_count() { grep -v -E '^most OS threads' || true; }
ERR_FILTER=no_thread_count
run_both python-threads python3 "$HERE/dns_threads.py" 100
expect_stat_at_most python-threads hubs 4
most=$(grep -o -E 'most OS threads while resolving: [0-9]+' "$TMP/python-threads.green.err" \
  | grep -o -E '[0-9]+$' || true)
if [[ -n $most ]] && ((most <= 8)); then
  pass "python-threads: at most $most OS threads while 100 lookups waited (native: $(
    grep -o -E '[0-9]+$' "$TMP/python-threads.native.err" | tail -n 1))"
else
  fail "python-threads: ${most:-no} OS threads while the lookups waited, expected 8 or fewer"
fi

stop_server http INT
finish
