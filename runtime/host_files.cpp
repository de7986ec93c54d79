#include "host_files.hpp"

#include "internal.hpp"

#include <arpa/inet.h>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unordered_set>
#include <vector>

namespace green::host_files {
namespace {

// What tells one version of a file from the next (glibc's file_change_detection keeps the
// same). A missing file is a version too: all zero.
struct version {
    bool exists = false;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    timespec mtime{};
    timespec ctime{};

    static version of(const char* path)
    {
        version v;
        struct stat st;
        if (stat(path, &st) == 0) {
            v.exists = true;
            v.dev = st.st_dev;
            v.ino = st.st_ino;
            v.size = st.st_size;
            v.mtime = st.st_mtim;
            v.ctime = st.st_ctim;
        }
        return v;
    }

    bool operator==(const version& o) const
    {
        return exists == o.exists && dev == o.dev && ino == o.ino &&
               size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
               mtime.tv_nsec == o.mtime.tv_nsec && ctime.tv_sec == o.ctime.tv_sec &&
               ctime.tv_nsec == o.ctime.tv_nsec;
    }
};

hosts_policy parse_policy(const char* path)
{
    FILE* f = std::fopen(path, "re");
    if (!f)
        return hosts_policy::other;  // glibc's built-in default is "dns [!UNAVAIL=return] files"
    char line[1024];
    hosts_policy result = hosts_policy::other;
    while (std::fgets(line, sizeof line, f)) {
        char* p = line + std::strspn(line, " \t");
        if (std::strncmp(p, "hosts:", 6) != 0)
            continue;
        std::vector<std::string> sources;
        for (char *save = nullptr, *w = strtok_r(p + 6, " \t\n", &save); w && *w != '#';
             w = strtok_r(nullptr, " \t\n", &save))
            sources.emplace_back(w);
        if (sources == std::vector<std::string>{"files", "dns"})
            result = hosts_policy::files_then_dns;
        else if (sources == std::vector<std::string>{"files"})
            result = hosts_policy::files_only;
        else if (sources == std::vector<std::string>{"dns"})
            result = hosts_policy::dns_only;
        break;  // glibc uses the first hosts line
    }
    std::fclose(f);
    return result;
}

struct hosts_table {
    std::unordered_set<std::string> names;      // lower case
    std::unordered_set<std::string> addresses;  // family byte, then the address bytes
};

std::string address_key(int family, const void* addr)
{
    std::string key(1, char(family));
    key.append(static_cast<const char*>(addr), family == AF_INET ? 4 : 16);
    return key;
}

std::string lower(const char* s)
{
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z')
            c = char(c - 'A' + 'a');
    return out;
}

// As glibc's files module reads it: address, then names; '#' starts a comment.
std::shared_ptr<const hosts_table> parse_hosts(const char* path)
{
    auto table = std::make_shared<hosts_table>();
    FILE* f = std::fopen(path, "re");
    if (!f)
        return table;
    char line[4096];
    while (std::fgets(line, sizeof line, f)) {
        if (char* hash = std::strchr(line, '#'))
            *hash = '\0';
        char* save = nullptr;
        char* addr = strtok_r(line, " \t\r\n", &save);
        if (!addr)
            continue;
        unsigned char bytes[16];
        int family;
        if (inet_pton(AF_INET, addr, bytes) == 1)
            family = AF_INET;
        else if (inet_pton(AF_INET6, addr, bytes) == 1)
            family = AF_INET6;
        else
            continue;
        bool named = false;
        for (char* n = strtok_r(nullptr, " \t\r\n", &save); n; n = strtok_r(nullptr, " \t\r\n", &save)) {
            table->names.insert(lower(n));
            named = true;
        }
        if (named)
            table->addresses.insert(address_key(family, bytes));
    }
    std::fclose(f);
    return table;
}

// One parsed file and the version it came from. Lookups run on any thread: the snapshot is
// swapped under the lock, parsed outside it, and never changed once made.
template <class Parsed>
class cached_file {
public:
    template <class Parse>
    Parsed get(const char* path, Parse&& parse)
    {
        internal_scope scope;
        version now = version::of(path);
        {
            spinlock_guard g(lock_);
            if (valid_ && now == version_ && path_ == path)
                return value_;
        }
        Parsed fresh = parse(path);
        spinlock_guard g(lock_);
        path_ = path;
        version_ = now;
        value_ = fresh;
        valid_ = true;
        return fresh;
    }

private:
    spinlock lock_;
    bool valid_ = false;
    std::string path_;
    version version_;
    Parsed value_{};
};

// Never destroyed: lookups may run during and after static destruction.
cached_file<hosts_policy>& nsswitch()
{
    static auto* cache = new cached_file<hosts_policy>();
    return *cache;
}

cached_file<std::shared_ptr<const hosts_table>>& hosts()
{
    static auto* cache = new cached_file<std::shared_ptr<const hosts_table>>();
    return *cache;
}

}  // namespace

hosts_policy policy(const char* nsswitch_path)
{
    return nsswitch().get(nsswitch_path, parse_policy);
}

bool has_name(const char* name, const char* hosts_path)
{
    return hosts().get(hosts_path, parse_hosts)->names.count(lower(name)) != 0;
}

bool has_address(const void* addr, int family, const char* hosts_path)
{
    if (family != AF_INET && family != AF_INET6)
        return false;
    return hosts().get(hosts_path, parse_hosts)->addresses.count(address_key(family, addr)) != 0;
}

}  // namespace green::host_files
