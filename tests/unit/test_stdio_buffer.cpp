// stdio_buffer's predictions against glibc itself: a FILE on a pipe is written and read in
// many patterns, and whether each call wrote or read the pipe (its queued byte count moved) must
// be what the prediction said before the call.
#include "stdio_buffer.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <string>
#include <sys/ioctl.h>
#include <unistd.h>

namespace sb = green::stdio_buffer;

namespace {

int queued(int fd)
{
    int n = 0;
    REQUIRE(ioctl(fd, FIONREAD, &n) == 0);
    return n;
}

void drain(int fd)
{
    char buf[65536];
    while (queued(fd) > 0)
        REQUIRE(read(fd, buf, sizeof buf) > 0);
}

struct pipe_pair {
    int r = -1, w = -1;
    pipe_pair()
    {
        int p[2];
        REQUIRE(pipe(p) == 0);
        r = p[0];
        w = p[1];
        fcntl(w, F_SETPIPE_SZ, 1 << 20);  // room for every flush of the test
    }
    ~pipe_pair()
    {
        if (r >= 0)
            close(r);
        if (w >= 0)
            close(w);
    }
};

}  // namespace

TEST_CASE("stdio_buffer: write_flushes and putc_flushes say exactly which writes reach the fd", "[stdio]")
{
    struct mode {
        int kind;
        std::size_t size;  // 0: glibc allocates the buffer at the first write
    };
    const mode modes[] = {{_IOFBF, 0}, {_IOFBF, 100}, {_IOFBF, 1000}, {_IOLBF, 0},
                          {_IOLBF, 300}, {_IONBF, 0}, {_IOFBF, 64}};
    const std::size_t sizes[] = {1, 2, 7, 63, 64, 99, 100, 101, 299, 300, 999, 1000, 1001,
                                 4095, 4096, 4097, 9000};
    std::mt19937 rng(15);
    // Fresh streams again and again: a stream's first write (no buffer yet, or not yet in
    // write mode) takes other paths in glibc than the writes after it.
    for (int rep = 0; rep < 60; ++rep)
    for (const mode& m : modes) {
        pipe_pair p;
        FILE* f = fdopen(p.w, "w");
        REQUIRE(f);
        p.w = -1;  // fclose closes it
        // glibc ignores the size unless it is given the buffer too.
        std::string buffer(m.size, '\0');
        if (m.kind != _IOFBF || m.size)
            REQUIRE(setvbuf(f, m.size ? buffer.data() : nullptr, m.kind, m.size) == 0);
        int mismatches = 0;
        for (int step = 0; step < 12; ++step) {
            std::size_t n = sizes[rng() % std::size(sizes)];
            std::string data(n, 'x');
            for (char& c : data)
                c = char('a' + rng() % 26);
            if (rng() % 3 == 0)
                data[rng() % n] = '\n';
            int op = int(rng() % 4);
            bool predicted;
            int before = queued(p.r);
            if (op == 0) {
                predicted = sb::write_flushes(f, data.data(), n);
                REQUIRE(fwrite(data.data(), 1, n, f) == n);
            } else if (op == 1) {
                predicted = sb::putc_flushes(f, data[0]);
                REQUIRE(fputc(data[0], f) == (unsigned char)data[0]);
            } else if (op == 2) {
                // printf: the bytes are not known before it formats; without them the
                // prediction may only err towards a flush.
                predicted = sb::write_flushes(f, data.data(), n);
                bool unknown = sb::write_flushes(f, nullptr, n);
                REQUIRE(fprintf(f, "%s", data.c_str()) == int(n));
                if (!unknown && queued(p.r) != before) {
                    ++mismatches;
                    FAIL_CHECK("printf of " << n << " bytes flushed, not predicted");
                }
            } else {
                predicted = sb::pending_output(f);
                REQUIRE(fflush(f) == 0);
            }
            bool wrote = queued(p.r) != before;
            if (predicted != wrote) {
                ++mismatches;
                FAIL_CHECK("mode " << m.kind << "/" << m.size << " step " << step << " op "
                                   << op << " n " << n << ": predicted " << predicted
                                   << ", wrote " << wrote);
            }
            drain(p.r);
        }
        CHECK(mismatches == 0);
        fclose(f);
    }
}

TEST_CASE("stdio_buffer: underflow_reads says exactly which reads reach the fd", "[stdio]")
{
    const std::size_t bufsizes[] = {0, 16, 1000};
    std::mt19937 rng(7);
    for (std::size_t bufsize : bufsizes) {
        pipe_pair p;
        FILE* f = fdopen(p.r, "r");
        REQUIRE(f);
        p.r = -1;
        std::string buffer(bufsize, '\0');
        if (bufsize)
            REQUIRE(setvbuf(f, buffer.data(), _IOFBF, bufsize) == 0);
        std::string feed(200000, 'x');
        for (char& c : feed)
            c = char('a' + rng() % 26);
        REQUIRE(write(p.w, feed.data(), feed.size()) == ssize_t(feed.size()));
        int mismatches = 0;
        std::size_t pos = 0;
        for (int step = 0; step < 3000 && pos + 4 < feed.size(); ++step) {
            int op = int(rng() % 5);
            int before = queued(fileno(f));
            bool predicted = sb::underflow_reads(f);
            if (op == 0 || op == 1) {
                int c = getc(f);
                REQUIRE(c == (unsigned char)feed[pos]);
                ++pos;
            } else if (op == 2 && pos > 0) {
                // Push back a different byte (into the backup area), then read it again.
                int c = getc(f);
                REQUIRE(c != EOF);
                REQUIRE(ungetc('#', f) == '#');
                predicted = sb::underflow_reads(f);
                before = queued(fileno(f));
                REQUIRE(getc(f) == '#');
                ++pos;
            } else {
                char buf[64];
                std::size_t want = 1 + rng() % 40;
                // A request that reaches past the buffer refills it: the prediction is about
                // the buffer running dry, so only requests the buffer holds are compared.
                std::size_t have = std::size_t(f->_IO_read_end - f->_IO_read_ptr);
                if (f->_IO_read_end < f->_IO_read_ptr || want > have || have == 0)
                    want = 1;
                predicted = sb::underflow_reads(f);
                REQUIRE(fread(buf, 1, want, f) == want);
                REQUIRE(std::memcmp(buf, feed.data() + pos, want) == 0);
                pos += want;
            }
            bool read_fd = queued(fileno(f)) != before;
            if (predicted != read_fd) {
                ++mismatches;
                FAIL_CHECK("buffer " << bufsize << " step " << step << " op " << op
                                     << ": predicted " << predicted << ", read " << read_fd);
            }
        }
        CHECK(mismatches == 0);
        fclose(f);
    }
}
