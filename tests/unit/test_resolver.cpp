// The resolver on its own: lookups against the test DNS server (tests/dns/dns_server.py, started
// here on loopback and stopped by pid), answers and errors, hundreds of lookups in flight on one
// hub thread, and c-ares's retransmission schedule for a server that never answers.
#include "fd_table.hpp"
#include "hub.hpp"
#include "offload.hpp"
#include "resolver.hpp"

#include <catch2/catch.hpp>
#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <signal.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace resolver = green::resolver;
using green::hub;

namespace {

// The test server, shared by every test of this process; killed at exit.
class dns_server {
public:
    static dns_server& instance()
    {
        static dns_server s;
        return s;
    }
    int port() const { return port_; }

    // How many queries for `name` the server saw (its count.NAME TXT record), read here by a
    // tiny raw query so that the resolver under test is not involved.
    int count(const std::string& name) const
    {
        std::string qname = "count." + name;
        std::vector<unsigned char> q = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
        std::size_t start = 0;
        while (start <= qname.size()) {
            std::size_t dot = qname.find('.', start);
            if (dot == std::string::npos)
                dot = qname.size();
            q.push_back(static_cast<unsigned char>(dot - start));
            q.insert(q.end(), qname.begin() + long(start), qname.begin() + long(dot));
            start = dot + 1;
        }
        q.insert(q.end(), {0, 0, 16, 0, 1});
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        timeval tv{2, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(std::uint16_t(port_));
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
        unsigned char reply[512];
        ssize_t n = recv(fd, reply, sizeof reply, 0);
        close(fd);
        // The TXT string is the reply's last bytes: length, then digits.
        if (n < 13)
            return -1;
        int len = 0;
        while (len < n && std::isdigit(reply[n - 1 - len]))
            ++len;
        return std::atoi(std::string(reinterpret_cast<char*>(reply) + n - len, len).c_str());
    }

private:
    dns_server()
    {
        char dir[] = "/tmp/green-resolver-test.XXXXXX";
        REQUIRE(mkdtemp(dir));
        std::string port_file = std::string(dir) + "/port";
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            execl("/usr/bin/python3", "python3", GREEN_DNS_SERVER_SCRIPT, "--delay", "200",
                  "--port-file", port_file.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        for (int i = 0; i < 200 && port_ == 0; ++i) {
            std::ifstream in(port_file);
            if (!(in >> port_))
                usleep(50000);
        }
        unlink(port_file.c_str());
        rmdir(dir);
        REQUIRE(port_ > 0);
        std::atexit([] { instance().stop(); });
        REQUIRE(resolver::configure({"127.0.0.1:" + std::to_string(port_)}));
    }
    void stop()
    {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }
    pid_t pid_ = -1;
    int port_ = 0;
};

std::string text(const resolver::address& a)
{
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(a.family, a.bytes, buf, sizeof buf);
    return buf;
}

std::vector<std::string> texts(const resolver::answer& a)
{
    std::vector<std::string> out;
    for (const auto& addr : a.addresses)
        out.push_back(text(addr));
    return out;
}

double seconds_since(std::uint64_t start)
{
    return double(green::now_ns() - start) / 1e9;
}

int os_threads()
{
    int n = 0;
    if (DIR* d = opendir("/proc/self/task")) {
        while (dirent* e = readdir(d))
            n += e->d_name[0] != '.';
        closedir(d);
    }
    return n;
}

}  // namespace

TEST_CASE("addresses, canonical names and errors", "[resolver]")
{
    dns_server::instance();
    REQUIRE(hub::for_this_thread());

    auto host = resolver::lookup_addrinfo("host.test", AF_INET);
    CHECK(host.result == resolver::outcome::ok);
    CHECK(texts(host) == std::vector<std::string>{"192.0.2.1"});
    CHECK(host.canonical == "host.test");

    auto six = resolver::lookup_addrinfo("host.test", AF_INET6);
    CHECK(texts(six) == std::vector<std::string>{"2001:db8::1"});

    auto both = resolver::lookup_addrinfo("host.test", AF_UNSPEC);
    CHECK(both.result == resolver::outcome::ok);
    CHECK(both.addresses.size() == 2);

    auto alias = resolver::lookup_addrinfo("alias2.test", AF_INET);
    CHECK(texts(alias) == std::vector<std::string>{"192.0.2.1"});
    CHECK(alias.canonical == "host.test");

    auto multi = resolver::lookup_hostent("multi.test", AF_INET);
    CHECK(texts(multi) == std::vector<std::string>{"192.0.2.11", "192.0.2.12", "192.0.2.13"});

    auto chain = resolver::lookup_hostent("alias2.test", AF_INET);
    CHECK(chain.canonical == "host.test");
    CHECK(chain.aliases == std::vector<std::string>{"alias2.test", "alias.test"});

    CHECK(resolver::lookup_addrinfo("nx.test", AF_INET).result == resolver::outcome::not_found);
    CHECK(resolver::lookup_hostent("nx.test", AF_INET).result == resolver::outcome::not_found);
    CHECK(resolver::lookup_addrinfo("v4only.test", AF_INET6).result ==
          resolver::outcome::no_data);
    CHECK(resolver::lookup_addrinfo("x.servfail.test", AF_INET).result ==
          resolver::outcome::try_again);

    unsigned char v4[4] = {192, 0, 2, 1};
    auto ptr = resolver::lookup_address(v4, AF_INET);
    CHECK(ptr.result == resolver::outcome::ok);
    CHECK(ptr.canonical == "host.test");
    unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    CHECK(resolver::lookup_address(v6, AF_INET6).canonical == "host.test");
    unsigned char unknown[4] = {192, 0, 2, 200};
    CHECK(resolver::lookup_address(unknown, AF_INET).result == resolver::outcome::not_found);
}

TEST_CASE("the resolver's sockets are the runtime's own", "[resolver]")
{
    dns_server::instance();
    REQUIRE(hub::for_this_thread());
    // Catches the socket while the lookup is in flight: a fiber looks up a slow name while
    // another inspects the fds.
    struct shared {
        bool saw_runtime_socket = false;
        bool saw_program_socket = false;
    } s;
    hub* h = hub::for_this_thread();
    auto* looker = h->spawn([](void*) { resolver::lookup_addrinfo("fds.slow.test", AF_INET); },
                            nullptr);
    auto* checker = h->spawn(
        [](void* p) {
            auto* s = static_cast<shared*>(p);
            hub::current()->yield();  // the lookup has sent its query now
            DIR* d = opendir("/proc/self/fd");
            while (dirent* e = readdir(d)) {
                int fd = std::atoi(e->d_name);
                char link[64], target[128] = {};
                std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
                if (readlink(link, target, sizeof target - 1) <= 0 ||
                    std::string(target).rfind("socket:", 0) != 0)
                    continue;
                if (green::fd_table::is_runtime_fd(fd))
                    s->saw_runtime_socket = true;
                else if (fd != dirfd(d))
                    s->saw_program_socket = true;
            }
            closedir(d);
        },
        &s);
    h->join(checker);
    h->join(looker);
    CHECK(s.saw_runtime_socket);
    CHECK_FALSE(s.saw_program_socket);
}

TEST_CASE("hundreds of slow lookups on one hub take about one delay", "[resolver]")
{
    dns_server::instance();
    hub* h = hub::for_this_thread();
    REQUIRE(h);

    std::uint64_t start = green::now_ns();
    REQUIRE(resolver::lookup_addrinfo("first.slow.test", AF_INET).result ==
            resolver::outcome::ok);
    double one = seconds_since(start);
    CHECK(one >= 0.19);  // the server's 200 ms delay is really there

    constexpr int count = 300;
    struct job {
        int index;
        bool ok = false;
    };
    std::vector<job> jobs(count);
    std::vector<green::fiber*> fibers;
    int threads_before = os_threads();
    start = green::now_ns();
    for (int i = 0; i < count; ++i) {
        jobs[i].index = i;
        fibers.push_back(h->spawn(
            [](void* p) {
                auto* j = static_cast<job*>(p);
                std::string name = "n" + std::to_string(j->index) + ".slow.test";
                auto a = resolver::lookup_addrinfo(name.c_str(), AF_INET);
                j->ok = a.result == resolver::outcome::ok && a.addresses.size() == 1;
            },
            &jobs[i]));
    }
    for (auto* f : fibers)
        h->join(f);
    double all = seconds_since(start);
    int failed = 0;
    for (const auto& j : jobs)
        failed += !j.ok;
    CHECK(failed == 0);
    INFO("one lookup " << one << " s, " << count << " concurrent lookups " << all << " s");
    CHECK(all < 5 * one);
    CHECK(os_threads() == threads_before);  // no helper threads: all on this hub's thread
}

TEST_CASE("a server that never answers: timeout and attempts from RES_OPTIONS", "[resolver]")
{
    dns_server& server = dns_server::instance();
    // A thread of its own, so that its hub makes a fresh channel that reads RES_OPTIONS.
    setenv("RES_OPTIONS", "timeout:1 attempts:2", 1);
    resolver::answer a;
    double elapsed = 0;
    std::thread t([&] {
        REQUIRE(hub::for_this_thread());
        std::uint64_t start = green::now_ns();
        a = resolver::lookup_addrinfo("x.drop.test", AF_INET);
        elapsed = seconds_since(start);
        resolver::shutdown_for_this_thread();
    });
    t.join();
    unsetenv("RES_OPTIONS");
    CHECK(a.result == resolver::outcome::try_again);
    // Two rounds of one second with one server, as glibc: its timeout does not double.
    CHECK(elapsed >= 1.95);
    CHECK(elapsed < 10);
    CHECK(server.count("x.drop.test") == 2);
}

TEST_CASE("offloaded work runs on a native worker while the hub runs other fibers", "[resolver]")
{
    hub* h = hub::for_this_thread();
    REQUIRE(h);
    struct shared {
        bool worker_was_native = false;
        bool on_other_thread = false;
        std::thread::id hub_thread = std::this_thread::get_id();
        int ticks = 0;
        bool done = false;
    } s;
    auto* slow = h->spawn(
        [](void* p) {
            auto* s = static_cast<shared*>(p);
            green::offload::run(
                [](void* q) {
                    auto* s = static_cast<shared*>(q);
                    s->worker_was_native = green::tls.native_only && !green::may_park();
                    s->on_other_thread = std::this_thread::get_id() != s->hub_thread;
                    usleep(200000);
                },
                s);
            s->done = true;
        },
        &s);
    auto* ticker = h->spawn(
        [](void* p) {
            auto* s = static_cast<shared*>(p);
            while (!s->done) {
                ++s->ticks;
                hub::current()->sleep_until(green::now_ns() + 10000000, green::interrupt_mode::never);
            }
        },
        &s);
    h->join(slow);
    h->join(ticker);
    CHECK(s.worker_was_native);
    CHECK(s.on_other_thread);
    CHECK(s.ticks >= 5);  // the hub kept running fibers during the 200 ms job
    CHECK(green::offload::workers() >= 1);
}

TEST_CASE("offload workers block asynchronous signals, so the program's threads receive them",
          "[resolver]")
{
    hub* h = hub::for_this_thread();
    REQUIRE(h);
    sigset_t before;
    REQUIRE(pthread_sigmask(SIG_BLOCK, nullptr, &before) == 0);
    struct shared {
        sigset_t mask;
        int got = -1;
    } s;
    auto* f = h->spawn(
        [](void* p) {
            green::offload::run(
                [](void* q) {
                    auto* s = static_cast<shared*>(q);
                    s->got = pthread_sigmask(SIG_BLOCK, nullptr, &s->mask);
                },
                p);
        },
        &s);
    h->join(f);
    REQUIRE(s.got == 0);
    for (int sig : {SIGALRM, SIGUSR1, SIGINT, SIGTERM, SIGCHLD, SIGPROF})
        CHECK(sigismember(&s.mask, sig) == 1);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE})
        CHECK(sigismember(&s.mask, sig) == 0);
    sigset_t after;
    REQUIRE(pthread_sigmask(SIG_BLOCK, nullptr, &after) == 0);
    for (int sig = 1; sig < NSIG; ++sig)
        CHECK(sigismember(&after, sig) == sigismember(&before, sig));
}

TEST_CASE("an offloaded job's wake-up never ends a later park of its fiber", "[resolver][offload]")
{
    // A second fiber ends the offload park early (as a cancellation would) whenever it finds
    // the caller parked in it. The worker's own wake-up, arriving after run() has returned,
    // must not end the caller's next wait: a 1 ms sleep that has to end by its timer.
    hub* h = hub::for_this_thread();
    REQUIRE(h);
    struct shared {
        green::fiber* caller = nullptr;
        bool in_offload = false;
        bool finished = false;
        int early_sleeps = 0;
        int rounds = 0;
    } s;
    constexpr int rounds = 3000;
    auto* caller = h->spawn(
        [](void* p) {
            auto* s = static_cast<shared*>(p);
            s->caller = green::tls.running;
            for (int i = 0; i < rounds; ++i) {
                s->in_offload = true;
                green::offload::run([](void*) {}, nullptr);
                s->in_offload = false;
                auto r = hub::current()->sleep_until(green::now_ns() + 1000000,
                                                     green::interrupt_mode::never);
                if (r != green::wake_reason::timed_out)
                    ++s->early_sleeps;
                ++s->rounds;
            }
            s->finished = true;
        },
        &s);
    auto* waker = h->spawn(
        [](void* p) {
            auto* s = static_cast<shared*>(p);
            while (!s->finished) {
                // Same hub: the caller is parked while this runs, in run() if in_offload.
                if (s->in_offload)
                    hub::try_wake(s->caller, green::wake_reason::interrupted);
                hub::current()->yield();
            }
        },
        &s);
    h->join(caller);
    h->join(waker);
    CHECK(s.rounds == rounds);
    CHECK(s.early_sleeps == 0);
}
