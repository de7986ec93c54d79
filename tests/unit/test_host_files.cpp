// host_files: the nsswitch hosts policy and /etc/hosts names and addresses, parsed once and
// parsed again when the file changes (a new file renamed over it, or a changed size).
#include "host_files.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace hf = green::host_files;

namespace {

struct temp_dir {
    std::string path;
    temp_dir()
    {
        char tmpl[] = "/tmp/unit-host-files.XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        path = tmpl;
    }
    ~temp_dir()
    {
        std::string cmd = "rm -rf '" + path + "'";
        (void)std::system(cmd.c_str());
    }
};

// Writes `text` to a new file and renames it over `path`: a new inode, as editors and package
// managers replace these files.
void replace(const std::string& path, const std::string& text)
{
    std::string fresh = path + ".new";
    FILE* f = std::fopen(fresh.c_str(), "w");
    REQUIRE(f);
    REQUIRE(std::fwrite(text.data(), 1, text.size(), f) == text.size());
    REQUIRE(std::fclose(f) == 0);
    REQUIRE(std::rename(fresh.c_str(), path.c_str()) == 0);
}

void append(const std::string& path, const std::string& text)
{
    FILE* f = std::fopen(path.c_str(), "a");
    REQUIRE(f);
    REQUIRE(std::fwrite(text.data(), 1, text.size(), f) == text.size());
    REQUIRE(std::fclose(f) == 0);
}

bool lists(const std::string& hosts, int family, const char* text)
{
    unsigned char addr[16];
    REQUIRE(inet_pton(family, text, addr) == 1);
    return hf::has_address(addr, family, hosts.c_str());
}

}  // namespace

TEST_CASE("the nsswitch hosts policy follows the file", "[files]")
{
    temp_dir dir;
    std::string ns = dir.path + "/nsswitch.conf";
    CHECK(hf::policy(ns.c_str()) == hf::hosts_policy::other);  // no file: glibc's default
    replace(ns, "passwd: files\nhosts:   files dns # a comment\nhosts: dns\n");
    CHECK(hf::policy(ns.c_str()) == hf::hosts_policy::files_then_dns);
    replace(ns, "hosts: files\n");
    CHECK(hf::policy(ns.c_str()) == hf::hosts_policy::files_only);
    replace(ns, "hosts: dns\n");
    CHECK(hf::policy(ns.c_str()) == hf::hosts_policy::dns_only);
    append(ns, "# the first hosts line counts\nhosts: files\n");
    CHECK(hf::policy(ns.c_str()) == hf::hosts_policy::dns_only);
    replace(ns, "hosts: files mdns4_minimal [NOTFOUND=return] dns\n");
    CHECK(hf::policy(ns.c_str()) == hf::hosts_policy::other);
    REQUIRE(unlink(ns.c_str()) == 0);
    CHECK(hf::policy(ns.c_str()) == hf::hosts_policy::other);
}

TEST_CASE("hosts names and addresses follow the file", "[files]")
{
    temp_dir dir;
    std::string hosts = dir.path + "/hosts";
    CHECK_FALSE(hf::has_name("localhost", hosts.c_str()));
    replace(hosts, "127.0.0.1 localhost Loopback.Example # comment names-not\n"
                   "::1 ip6-localhost\n"
                   "10.1.2.3\n"              // no names: not an entry
                   "not-an-address name-x\n"
                   "#192.0.2.1 commented\n");
    CHECK(hf::has_name("localhost", hosts.c_str()));
    CHECK(hf::has_name("LOCALHOST", hosts.c_str()));
    CHECK(hf::has_name("loopback.example", hosts.c_str()));
    CHECK(hf::has_name("ip6-localhost", hosts.c_str()));
    CHECK_FALSE(hf::has_name("names-not", hosts.c_str()));
    CHECK_FALSE(hf::has_name("name-x", hosts.c_str()));
    CHECK_FALSE(hf::has_name("commented", hosts.c_str()));
    CHECK(lists(hosts, AF_INET, "127.0.0.1"));
    CHECK(lists(hosts, AF_INET6, "::1"));
    CHECK_FALSE(lists(hosts, AF_INET, "10.1.2.3"));
    CHECK_FALSE(lists(hosts, AF_INET, "192.0.2.1"));
    CHECK_FALSE(lists(hosts, AF_INET6, "::2"));

    append(hosts, "192.0.2.7 added\n");
    CHECK(hf::has_name("added", hosts.c_str()));
    CHECK(lists(hosts, AF_INET, "192.0.2.7"));
    replace(hosts, "192.0.2.8 other\n");
    CHECK_FALSE(hf::has_name("localhost", hosts.c_str()));
    CHECK(hf::has_name("other", hosts.c_str()));
}
