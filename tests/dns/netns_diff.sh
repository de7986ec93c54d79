#!/bin/sh
# The differential test with DNS: gai_diff --dns run natively and under libgreen.so by
# compare.py, inside a user, network and mount namespace of the test's own. There the only
# network is a private loopback, the test DNS server listens on 127.0.0.1:53, and
# /etc/resolv.conf is bind-mounted to point at it, so glibc's own resolver and c-ares on the
# hub ask the same server and no query can leave the machine.
# usage: netns_diff.sh LIBGREEN GAI_DIFF   (exit 77, "skipped", without user namespaces)
lib=$(realpath "$1")
prog=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
if ! unshare -rnm true 2>/dev/null; then
    echo "skipped: this system does not allow unprivileged user and network namespaces"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/green-netns.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
printf 'nameserver 127.0.0.1\nsearch test\noptions timeout:1 attempts:2\n' >"$tmp/resolv.conf"
export lib prog here tmp
unshare -rnm /bin/sh -c '
    ip link set lo up 2>/dev/null || true
    mount --bind "$tmp/resolv.conf" /etc/resolv.conf || exit 2
    /usr/bin/python3 "$here/dns_server.py" --port 53 --port-file "$tmp/port" &
    server=$!
    i=0
    while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    unset RES_OPTIONS LOCALDOMAIN GREEN_DNS_SERVERS
    /usr/bin/python3 "$here/../preload/compare.py" --lib "$lib" -- "$prog" --dns
    status=$?
    kill "$server"
    wait "$server" 2>/dev/null
    exit $status
'
