/* glibc is told the process became multi-threaded: __libc_single_threaded is 0 once a second
 * thread exists, so libstdc++ makes a second thread that reaches a function-local static
 * whose constructor is still running wait for it (instead of taking it for recursion and
 * throwing recursive_init_error), and its shared_ptr counts use atomic operations. */
#include <atomic>
#include <cstdio>
#include <memory>
#include <pthread.h>
#include <sys/single_threaded.h>
#include <unistd.h>

namespace {

std::atomic<int> constructions{0};

struct slow {
    int value;
    slow() : value(42)
    {
        constructions.fetch_add(1);
        usleep(50000); /* the other thread arrives meanwhile and must wait */
    }
};

const slow& instance()
{
    static slow s;
    return s;
}

std::shared_ptr<int> shared = std::make_shared<int>(7);

void* racer(void*)
{
    std::shared_ptr<int> copy = shared;
    return reinterpret_cast<void*>(long(instance().value + *copy));
}

}  // namespace

int main()
{
    std::printf("before pthread_create: __libc_single_threaded = %d\n", int(__libc_single_threaded));
    pthread_t a, b;
    if (pthread_create(&a, nullptr, racer, nullptr) != 0)
        return 1;
    std::printf("after pthread_create: __libc_single_threaded = %d\n", int(__libc_single_threaded));
    std::fflush(stdout);
    usleep(10000); /* a is inside the constructor */
    if (pthread_create(&b, nullptr, racer, nullptr) != 0)
        return 1;
    void* ra = nullptr;
    void* rb = nullptr;
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    std::printf("results %ld %ld, constructed %d time(s), use_count %ld\n", long(ra), long(rb),
                constructions.load(), shared.use_count());
    return 0;
}
