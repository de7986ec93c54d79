// What glibc's stdio is about to do with a FILE, read from its public buffer pointers and flag
// bits alone: whether the next refill reads the fd, whether a write flushes. The stdio hooks
// park before exactly those calls; the predictions are checked against glibc itself in
// tests/unit (a pipe shows whether a call wrote or read it).
//
// The FILE layout and its flag bits are glibc's public ABI (<bits/types/struct_FILE.h>; the
// bits are libio.h's, unchanged since glibc 2.1).
#pragma once

#include <cstddef>
#include <cstdio>

namespace green::stdio_buffer {

namespace flag {
constexpr int unbuffered = 0x0002;
constexpr int no_reads = 0x0004;
constexpr int no_writes = 0x0008;
constexpr int eof_seen = 0x0010;
constexpr int err_seen = 0x0020;
constexpr int in_backup = 0x0100;
constexpr int line_buf = 0x0200;
constexpr int currently_putting = 0x0800;
constexpr int is_filebuf = 0x2000;
constexpr int user_lock = 0x8000;
}  // namespace flag

// Whether glibc's __underflow would read the fd now: the buffer and any pushed-back area are
// empty, EOF is not yet seen (it is sticky), the stream is open for reading and byte-oriented.
// A stream in write mode (read after write on "r+") counts as empty: __underflow switches it
// to reading (after writing what it holds) and then reads.
bool underflow_reads(const FILE* fp);

// Whether writing `n` bytes (`data`, or null when the bytes are not known, which counts as
// holding a newline) makes glibc write the fd during the call, from the stream's buffer mode
// and free space.
bool write_flushes(const FILE* fp, const char* data, std::size_t n);

// The same for one byte through putc, fputc or __overflow, which never write straight to the
// fd as a longer write may: only a full buffer, a newline on a line-buffered stream, or an
// unbuffered stream flush.
bool putc_flushes(const FILE* fp, char c);

// Whether the stream holds output not yet written (fflush, fclose would write).
bool pending_output(const FILE* fp);

}  // namespace green::stdio_buffer
