// What the name-service front end needs from the files glibc reads for host lookups: the hosts
// line of /etc/nsswitch.conf and the names and addresses of /etc/hosts.
//
// Each file is parsed once and kept until it changes: every question costs one stat of the
// file (glibc's own test for a changed nsswitch.conf: inode, size, modification and change
// times), not a read and a parse of it. A 100,000-line hosts file is parsed once, not at every
// lookup, and a name is then one hash look-up.
#pragma once

namespace green::host_files {

enum class hosts_policy {
    files_then_dns,  // "hosts: files dns"
    files_only,      // "hosts: files"
    dns_only,        // "hosts: dns"
    other,           // anything else, or no file: glibc's business
};

// The first hosts line of the nsswitch file, as glibc reads it.
hosts_policy policy(const char* nsswitch_path = "/etc/nsswitch.conf");

// Whether the hosts file names `name` (any case, for any family), or lists `addr` (4 bytes for
// AF_INET, 16 for AF_INET6).
bool has_name(const char* name, const char* hosts_path = "/etc/hosts");
bool has_address(const void* addr, int family, const char* hosts_path = "/etc/hosts");

}  // namespace green::host_files
