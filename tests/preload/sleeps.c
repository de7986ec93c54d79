/* Sleeps: sleep, usleep, nanosleep, clock_nanosleep (relative and absolute, several clocks),
 * their invalid arguments, interruption by a signal handler installed without and with
 * SA_RESTART (EINTR and the remaining time), and errno kept across successful sleeps.
 * Times are never printed: only whether the sleep lasted at least what was asked. */
#include "transcript.h"

#include <signal.h>
#include <unistd.h>

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

static double now_on(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double ts_sec(struct timespec ts) { return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9; }

static void elapsed_ok(double t0, double want)
{
    say("  elapsed ok: %s", yesno(mono_now() - t0 >= want));
}

static void install(int flags)
{
    install_handler(SIGALRM, on_alarm, flags);
}

/* alarm(1), then wait 200 ms before the sleep starts: the signal comes ~0.8 s into it, so
 * the remaining time is ~4.2 s of 5 s, far from any rounding boundary. */
static void arm(void)
{
    alarm(1);
    usleep(200000);
}

static const char *clock_name(clockid_t c)
{
    switch (c) {
    case CLOCK_MONOTONIC: return "CLOCK_MONOTONIC";
    case CLOCK_REALTIME: return "CLOCK_REALTIME";
    case CLOCK_BOOTTIME: return "CLOCK_BOOTTIME";
    case CLOCK_TAI: return "CLOCK_TAI";
    default: return "?";
    }
}

int main(void)
{
    double t0;

    say("== sleep, usleep");
    t0 = mono_now();
    CALL(sleep(0));
    t0 = mono_now();
    CALL(sleep(1));
    elapsed_ok(t0, 1.0);
    CALL(usleep(0));
    t0 = mono_now();
    CALL(usleep(1000));
    elapsed_ok(t0, 0.001);
    t0 = mono_now();
    CALL(usleep(100));
    elapsed_ok(t0, 0.0001);

    say("== nanosleep");
    {
        struct timespec bad_ns = {.tv_sec = 0, .tv_nsec = 1000000000};
        struct timespec neg = {.tv_sec = -1, .tv_nsec = 0};
        struct timespec neg_ns = {.tv_sec = 0, .tv_nsec = -1};
        struct timespec ten = {.tv_sec = 0, .tv_nsec = 10000000};
        struct timespec zero = {0, 0};
        struct timespec rem = {7, 7};
        CALL(nanosleep(&bad_ns, NULL));
        CALL(nanosleep(&neg, NULL));
        CALL(nanosleep(&neg_ns, &rem));
        CALL(nanosleep(&zero, NULL));
        t0 = mono_now();
        CALL(nanosleep(&ten, &rem));
        elapsed_ok(t0, 0.010);
        say("  rem untouched: %s", yesno(rem.tv_sec == 7 && rem.tv_nsec == 7));
        t0 = mono_now();
        CALL(nanosleep(&ten, NULL));
        elapsed_ok(t0, 0.010);
    }

    say("== clock_nanosleep");
    {
        const clockid_t clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME, CLOCK_TAI};
        for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
            clockid_t clk = clocks[i];
            say("-- %s", clock_name(clk));
            struct timespec rel = {.tv_sec = 0, .tv_nsec = 10000000}, rem = {7, 7};
            double c0 = now_on(clk);
            CALL_ERRNUM(clock_nanosleep(clk, 0, &rel, &rem));
            say("  elapsed ok: %s", yesno(now_on(clk) - c0 >= 0.010));
            say("  rem untouched: %s", yesno(rem.tv_sec == 7 && rem.tv_nsec == 7));
            struct timespec abs;
            clock_gettime(clk, &abs);
            c0 = ts_sec(abs);
            abs.tv_nsec += 15000000;
            if (abs.tv_nsec >= 1000000000) {
                abs.tv_nsec -= 1000000000;
                abs.tv_sec++;
            }
            CALL_ERRNUM(clock_nanosleep(clk, TIMER_ABSTIME, &abs, NULL));
            say("  reached the deadline: %s", yesno(now_on(clk) >= ts_sec(abs)));
            say("  elapsed ok: %s", yesno(now_on(clk) - c0 >= 0.015));
            struct timespec past;
            clock_gettime(clk, &past);
            past.tv_sec -= 5;
            t0 = mono_now();
            CALL_ERRNUM(clock_nanosleep(clk, TIMER_ABSTIME, &past, NULL));
            say("  returned at once: %s", yesno(mono_now() - t0 < 0.5));
            struct timespec bad = {.tv_sec = 0, .tv_nsec = 1000000000};
            CALL_ERRNUM(clock_nanosleep(clk, 0, &bad, NULL));
        }
        struct timespec rel = {.tv_sec = 0, .tv_nsec = 1000000};
        CALL_ERRNUM(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &rel, NULL));
        CALL_ERRNUM(clock_nanosleep((clockid_t)123, 0, &rel, NULL));
        CALL_ERRNUM(clock_nanosleep(CLOCK_MONOTONIC, 0, &rel, NULL));
    }

    say("== errno kept across successful sleeps");
    {
        struct timespec ms = {.tv_sec = 0, .tv_nsec = 1000000};
        struct timespec bad = {.tv_sec = 0, .tv_nsec = -5};
        errno = 42;
        sleep(0);
        say("after sleep(0): errno %d", errno);
        errno = 42;
        usleep(1000);
        say("after usleep(1000): errno %d", errno);
        errno = 42;
        usleep(0);
        say("after usleep(0): errno %d", errno);
        errno = 42;
        nanosleep(&ms, NULL);
        say("after nanosleep(1 ms): errno %d", errno);
        errno = 42;
        clock_nanosleep(CLOCK_MONOTONIC, 0, &ms, NULL);
        say("after clock_nanosleep(1 ms): errno %d", errno);
        errno = 42;
        clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL);
        say("after clock_nanosleep(invalid): errno %d", errno);
    }

    say("== interrupted by SIGALRM, handler without SA_RESTART");
    install(0);
    {
        struct timespec five = {.tv_sec = 5, .tv_nsec = 0}, rem = {0, 0};
        arm();
        t0 = mono_now();
        CALL(nanosleep(&five, &rem));
        say("  handler ran: %d", (int)alarms);
        say("  rem in range: %s", yesno(ts_sec(rem) > 3.5 && ts_sec(rem) < 4.5));
        say("  returned early: %s", yesno(mono_now() - t0 < 3.0));

        arm();
        t0 = mono_now();
        CALL(sleep(5));
        say("  handler ran: %d", (int)alarms);
        say("  returned early: %s", yesno(mono_now() - t0 < 3.0));

        rem.tv_sec = rem.tv_nsec = 0;
        arm();
        CALL_ERRNUM(clock_nanosleep(CLOCK_MONOTONIC, 0, &five, &rem));
        say("  handler ran: %d", (int)alarms);
        say("  rem in range: %s", yesno(ts_sec(rem) > 3.5 && ts_sec(rem) < 4.5));

        struct timespec abs;
        clock_gettime(CLOCK_MONOTONIC, &abs);
        abs.tv_sec += 5;
        rem.tv_sec = rem.tv_nsec = 7;
        arm();
        t0 = mono_now();
        CALL_ERRNUM(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, &rem));
        say("  handler ran: %d", (int)alarms);
        say("  rem untouched: %s", yesno(rem.tv_sec == 7 && rem.tv_nsec == 7));
        say("  returned early: %s", yesno(mono_now() - t0 < 3.0));

        arm();
        t0 = mono_now();
        CALL(usleep(3000000));
        say("  handler ran: %d", (int)alarms);
        say("  returned early: %s", yesno(mono_now() - t0 < 2.5));
    }

    say("== interrupted by SIGALRM, handler with SA_RESTART (sleeps are never restarted)");
    install(SA_RESTART);
    {
        struct timespec five = {.tv_sec = 5, .tv_nsec = 0}, rem = {0, 0};
        arm();
        t0 = mono_now();
        CALL(nanosleep(&five, &rem));
        say("  handler ran: %d", (int)alarms);
        say("  rem in range: %s", yesno(ts_sec(rem) > 3.5 && ts_sec(rem) < 4.5));
        say("  returned early: %s", yesno(mono_now() - t0 < 3.0));
    }

    say("== a signal that is pending before the sleep");
    {
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, SIGALRM);
        REQUIRE(sigprocmask(SIG_BLOCK, &block, &old) == 0);
        raise(SIGALRM);
        say("  handler ran (blocked): %d", (int)alarms);
        REQUIRE(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
        say("  handler ran (unblocked): %d", (int)alarms);
        struct timespec ten = {.tv_sec = 0, .tv_nsec = 10000000};
        t0 = mono_now();
        CALL(nanosleep(&ten, NULL));
        elapsed_ok(t0, 0.010);
    }
    say("done");
    return 0;
}
