// Thread control blocks for green threads. Each green thread runs with a TCB and a static TLS
// block of its own, laid out as glibc lays out a thread's (x86-64: the TCB, glibc's struct
// pthread, at the thread pointer, the modules' TLS blocks below it), so that __thread and
// thread_local data, errno, the locale, C++ exception state and the resolver's state belong
// to the green thread, as they belong to a native thread. The context switch changes the FS
// base with the stack (context_x86_64_sysv_elf_gas.S).
//
// The dynamic linker builds the TLS part (its exported _dl_allocate_tls copies every module's
// TLS image and makes the DTV, exactly as for a thread glibc creates); this file fills in what
// glibc's pthread_create would: the self pointers, the stack-protector canary and pointer
// guard of the process, the "multiple threads" flag, the kernel tid, the robust-list head,
// the rseq area (marked unregistered: the kernel updates only the OS thread's own), the
// resolver state pointer. Offsets inside glibc's thread descriptor come from the descriptors
// libc exports for libthread_db, and each is checked against the OS thread's own TCB at start;
// if anything does not match, green threads share their OS thread's TCB, as before.
//
// TCBs are pooled and never freed: glibc >= 2.34 keeps __libc_thread_freeres hidden, so a TCB
// that is simply freed leaks what libc keeps per thread (the malloc tcache and what it
// caches). A pooled one keeps libc's block as it is (tcache, arena) and gets every other
// module's TLS image copied in again when a new green thread takes it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace green::tcb {

// Discovers glibc's layout and decides whether green threads get TCBs of their own. Called
// once at start-up, on the main thread, before any green thread exists. `want` false: never.
void init(bool want);
bool enabled();

// The calling flow's thread pointer.
inline char* current()
{
    return static_cast<char*>(__builtin_thread_pointer());
}

// The address of the calling flow's static-TLS variable `v` in the TCB whose thread pointer
// is `tp` (static TLS lies at the same offset from every thread pointer).
template <class T>
T* in(char* tp, T& v)
{
    return reinterpret_cast<T*>(reinterpret_cast<char*>(&v) - current() + tp);
}

// A TCB for a new green thread whose OS thread has kernel id `os_tid`: from the pool, or made.
// Null when no memory can be had. What must run on the TCB itself comes in enter().
char* acquire(int os_tid);

// The first thing a green thread runs on its own TCB.
void enter();

// The last thing a green thread runs on its own TCB: its C++ thread_local destructors.
void leave();

// Where glibc reads the kernel tid of the thread (signals it sends to itself, mutex owners):
// set to the OS thread's before each switch to the TCB.
void set_tid(char* tp, int os_tid);

// Puts back the TCB of a green thread that has ended; called from another context.
void release(char* tp);

// Copies the TLS images of modules loaded since the last look (dlopen) that went into static
// TLS into every TCB handed out, as glibc does for the threads it knows. acquire() calls it, so
// TCBs of green threads that exist at a dlopen get them when the next green thread is made.
void refresh_static_tls();

// How many TCBs were ever made (tests: the pool gives them back).
std::size_t made();

}  // namespace green::tcb
