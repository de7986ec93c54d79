// Per-thread state of C++ programs across blocking calls: thread_local values and objects with
// destructors, the exception being handled (throw; and std::current_exception), the locale set
// with uselocale, errno, h_errno and strerror's buffer, and a library loaded with dlopen that
// has TLS of both models. Every thread blocks between setting its state and checking it, in an
// order that makes the threads interleave (each waits for the next one's turn through a pipe
// chain), so under libgreen they are green threads of one hub taking turns on one OS thread.
// Prints a transcript that must be the same natively and green.
#include <atomic>
#include <cerrno>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <exception>
#include <netdb.h>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

constexpr int threads = 6;
int pipes[threads + 1][2];  // thread i waits on pipes[i], then writes pipes[i + 1]

thread_local int tl_number = -1;
thread_local std::string tl_text = "initial";

std::atomic<int> destroyed_mask{0};
struct marker {
    int id = -1;
    ~marker()
    {
        if (id >= 0)
            destroyed_mask.fetch_or(1 << id);
    }
};
thread_local marker tl_marker;

std::string results[threads];

void wait_turn(int i)
{
    char c;
    if (read(pipes[i][0], &c, 1) != 1)
        std::abort();
}

void pass_turn(int i)
{
    if (write(pipes[i + 1][1], "x", 1) != 1)
        std::abort();
}

void worker(int i)
{
    std::string r;
    tl_number = i * 11;
    tl_text = "thread " + std::to_string(i);
    tl_marker.id = i;
    locale_t utf8 = i % 2 ? newlocale(LC_ALL_MASK, "C.UTF-8", nullptr) : nullptr;
    if (utf8)
        uselocale(utf8);
    h_errno = i % 2 ? HOST_NOT_FOUND : TRY_AGAIN;
    const char* unknown = strerror(1000 + i);  // in the thread's own buffer
    try {
        throw std::runtime_error("error of thread " + std::to_string(i));
    } catch (...) {
        std::exception_ptr held = std::current_exception();
        errno = 100 + i;
        usleep(1000 * (threads - i));  // blocks with the exception being handled
        wait_turn(i);                  // and again, after every thread before it ran
        r += errno == 100 + i ? " errno ok" : " errno LOST";
        try {
            throw;
        } catch (const std::exception& e) {
            r += std::string(" rethrown '") + e.what() + "'";
        }
        try {
            std::rethrow_exception(held);
        } catch (const std::exception& e) {
            r += std::string(" current '") + e.what() + "'";
        }
        pass_turn(i);
    }
    usleep(500);
    r += " tl_number " + std::to_string(tl_number) + " tl_text '" + tl_text + "'";
    r += " MB_CUR_MAX " + std::to_string(MB_CUR_MAX);
    r += std::string(" h_errno ") + (h_errno == (i % 2 ? HOST_NOT_FOUND : TRY_AGAIN) ? "ok" : "LOST");
    r += std::string(" strerror '") + unknown + "'";
    r += " uncaught " + std::to_string(std::uncaught_exceptions());
    if (utf8) {
        uselocale(LC_GLOBAL_LOCALE);
        freelocale(utf8);
    }
    results[i] = r;
}

// Threads that use a dlopen'ed library's TLS: each sees the initial values, changes them,
// blocks, and sees its own values again.
int* (*gd_address)();
int* (*ie_address)();

void module_worker(int i, std::string* out)
{
    int* gd = gd_address();
    int* ie = ie_address();
    std::string r = "gd " + std::to_string(*gd) + " ie " + std::to_string(*ie);
    *gd = 100 + i;
    *ie = 200 + i;
    usleep(1000 * (4 - i));
    r += " then gd " + std::to_string(*gd_address()) + " ie " + std::to_string(*ie_address());
    *out = r;
}

}  // namespace

int main(int, char** argv)
{
    for (auto& p : pipes)
        if (pipe(p) != 0)
            return 1;
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i)
        pool.emplace_back(worker, i);
    if (write(pipes[0][1], "x", 1) != 1)  // thread 0 goes first
        return 1;
    for (auto& t : pool)
        t.join();
    for (int i = 0; i < threads; ++i)
        std::printf("thread %d:%s\n", i, results[i].c_str());
    std::printf("main: tl_number %d tl_text '%s' destructors ran for mask 0x%x\n", tl_number,
                tl_text.c_str(), destroyed_mask.load());

    // The module sits next to this program.
    std::string path = argv[0];
    path = path.substr(0, path.rfind('/') + 1) + "libpreload_tls_module.so";
    void* module = dlopen(path.c_str(), RTLD_NOW);
    if (!module) {
        std::printf("dlopen: %s\n", dlerror());
        return 1;
    }
    gd_address = reinterpret_cast<int* (*)()>(dlsym(module, "module_gd_address"));
    ie_address = reinterpret_cast<int* (*)()>(dlsym(module, "module_ie_address"));
    // Twice: the second round's threads may take over TCBs of the first round's.
    for (int round = 0; round < 2; ++round) {
        std::string out[4];
        std::vector<std::thread> users;
        for (int i = 0; i < 4; ++i)
            users.emplace_back(module_worker, i, &out[i]);
        for (auto& t : users)
            t.join();
        for (int i = 0; i < 4; ++i)
            std::printf("module round %d thread %d: %s\n", round, i, out[i].c_str());
    }
    std::printf("main: module gd %d ie %d\n", *gd_address(), *ie_address());
    return 0;
}
