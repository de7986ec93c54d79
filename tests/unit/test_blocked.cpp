// The blocked-call counts GREEN_STATS prints: names counted once each, from many threads.
#include "blocked.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

TEST_CASE("blocked calls are counted by name", "[blocked]")
{
    green::blocked::reset();
    green::blocked::note("connect");
    green::blocked::note("waitpid");
    // Another copy of the same text is the same name.
    std::string copy = "connect";
    static std::string kept;
    kept = copy;
    green::blocked::note(kept.c_str());

    green::blocked::entry e[4];
    REQUIRE(green::blocked::snapshot(e, 4) == 2);
    CHECK(std::string(e[0].call) == "connect");
    CHECK(e[0].count == 2);
    CHECK(std::string(e[1].call) == "waitpid");
    CHECK(e[1].count == 1);
    CHECK(green::blocked::total() == 3);
}

TEST_CASE("blocked calls noted from several threads add up", "[blocked]")
{
    green::blocked::reset();
    static const char* names[] = {"a", "b", "c", "d"};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([] {
            for (int i = 0; i < 10000; ++i)
                green::blocked::note(names[i % 4]);
        });
    for (auto& t : threads)
        t.join();
    green::blocked::entry e[8];
    REQUIRE(green::blocked::snapshot(e, 8) == 4);
    for (int i = 0; i < 4; ++i)
        CHECK(e[i].count == 10000);
    CHECK(green::blocked::total() == 40000);
}

TEST_CASE("names past the table's capacity are counted as other", "[blocked]")
{
    green::blocked::reset();
    static std::vector<std::string> many;
    many.clear();
    for (int i = 0; i < 70; ++i)
        many.push_back("call" + std::to_string(i));
    for (auto& n : many)
        green::blocked::note(n.c_str());
    green::blocked::entry e[80];
    std::size_t n = green::blocked::snapshot(e, 80);
    REQUIRE(n == 65);
    CHECK(std::string(e[64].call) == "other");
    CHECK(e[64].count == 6);
    CHECK(green::blocked::total() == 70);
    green::blocked::reset();
}
