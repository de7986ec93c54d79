// The context switch alone: transfer values, callee-saved state and the FPU control words.
#include "context.hpp"
#include "stack.hpp"

#include <catch2/catch.hpp>
#include <cfenv>
#include <cstdint>

namespace {

struct ping_pong {
    green::context main_ctx;
    green::context fiber_ctx;
    int rounds = 0;
};

void bounce(void* arg, void* transfer)
{
    auto* p = static_cast<ping_pong*>(arg);
    auto value = reinterpret_cast<std::uintptr_t>(transfer);
    for (;;) {
        ++p->rounds;
        value = reinterpret_cast<std::uintptr_t>(
            green::switch_context(p->fiber_ctx, p->main_ctx, reinterpret_cast<void*>(value * 2)));
    }
}

struct rounding_probe {
    green::context main_ctx;
    green::context fiber_ctx;
    int seen_in_fiber = -1;
};

void set_rounding_and_return(void* arg, void*)
{
    auto* p = static_cast<rounding_probe*>(arg);
    p->seen_in_fiber = std::fegetround();
    std::fesetround(FE_UPWARD);
    for (;;)
        green::switch_context(p->fiber_ctx, p->main_ctx);
}

}  // namespace

TEST_CASE("a context switch carries a value each way", "[context]")
{
    green::stack s;
    REQUIRE(green::allocate_stack(64 * 1024, s));
    ping_pong p;
    p.fiber_ctx = green::make_context(s.top, &bounce, &p);
    for (std::uintptr_t i = 1; i <= 1000; ++i) {
        void* back = green::switch_context(p.main_ctx, p.fiber_ctx, reinterpret_cast<void*>(i));
        REQUIRE(reinterpret_cast<std::uintptr_t>(back) == 2 * i);
    }
    CHECK(p.rounds == 1000);
    green::release_stack(s);
}

TEST_CASE("callee-saved values survive many switches", "[context]")
{
    green::stack s;
    REQUIRE(green::allocate_stack(64 * 1024, s));
    ping_pong p;
    p.fiber_ctx = green::make_context(s.top, &bounce, &p);
    // Many live values across the call force the compiler to keep some in rbx, rbp, r12-r15.
    volatile std::uint64_t seed = 7;
    std::uint64_t a = seed, b = seed * 3, c = seed * 5, d = seed * 7, e = seed * 11, f = seed * 13;
    for (int i = 0; i < 100; ++i) {
        green::switch_context(p.main_ctx, p.fiber_ctx, reinterpret_cast<void*>(1));
        a += 1; b += 3; c += 5; d += 7; e += 11; f += 13;
    }
    CHECK(a == 7 + 100);
    CHECK(b == 21 + 300);
    CHECK(c == 35 + 500);
    CHECK(d == 49 + 700);
    CHECK(e == 77 + 1100);
    CHECK(f == 91 + 1300);
    green::release_stack(s);
}

TEST_CASE("each context keeps its own floating-point rounding mode", "[context]")
{
    green::stack s;
    REQUIRE(green::allocate_stack(64 * 1024, s));
    std::fesetround(FE_TONEAREST);
    rounding_probe p;
    p.fiber_ctx = green::make_context(s.top, &set_rounding_and_return, &p);
    green::switch_context(p.main_ctx, p.fiber_ctx);
    CHECK(p.seen_in_fiber == FE_TONEAREST);   // a fresh context starts with its creator's mode
    CHECK(std::fegetround() == FE_TONEAREST); // the fiber's FE_UPWARD stayed with the fiber
    green::release_stack(s);
}
