#include "tcb.hpp"

#include "context.hpp"
#include "internal.hpp"
#include "log.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <link.h>
#include <locale.h>
#include <netdb.h>
#include <bits/types/res_state.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <vector>

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

extern "C" {
__attribute__((visibility("hidden"))) unsigned char green_fsgsbase_usable = 0;
}

namespace green::tcb {

namespace {

// glibc's tcbhead_t on x86-64, the start of its struct pthread. These offsets are part of the
// ABI (the compiler's TLS sequences, -fstack-protector's %fs:0x28, setjmp's %fs:0x30), so
// they do not move between glibc versions; the rest of the descriptor is looked up.
constexpr std::size_t tcb_self_tcb = 0;        // void* tcb: the thread pointer itself
constexpr std::size_t tcb_dtv = 8;             // dtv_t* dtv
constexpr std::size_t tcb_self = 16;           // struct pthread* self
constexpr std::size_t tcb_multiple_threads = 24;
constexpr std::size_t tcb_sysinfo = 32;
constexpr std::size_t tcb_stack_guard = 0x28;
constexpr std::size_t tcb_pointer_guard = 0x30;
constexpr std::size_t tcb_feature_1 = 0x48;    // CET state, copied as glibc's clone does

constexpr std::size_t key_block_bytes = 32 * 16;  // specific_1stblock: 32 {seq, data} pairs

// A module whose TLS block lies in static TLS, at `offset` below every thread pointer.
struct module {
    std::size_t offset = 0;
    const char* image = nullptr;
    std::size_t file_size = 0;
    std::size_t mem_size = 0;
    bool libc = false;
};

struct glibc_layout {
    std::size_t static_size = 0;
    std::size_t static_align = 0;
    std::size_t pthread_size = 0;
    std::size_t tid = 0;
    std::size_t list = 0;          // list_t list: glibc's thread lists
    std::size_t specific = 0;      // 0: not set (layout not recognised)
    std::size_t robust_head = 0;   // 0: not set
    std::intptr_t robust_futex_offset = 0;
    std::ptrdiff_t rseq = 0;       // 0: no rseq area
    std::ptrdiff_t resp = 0;       // __resp's offset from the thread pointer
    std::size_t map_tls_offset = 0;  // fields of struct link_map
    std::size_t map_tls_modid = 0;

    void* (*allocate_tls)(void*) = nullptr;
    void (*ctype_init)() = nullptr;
    void (*call_tls_dtors)() = nullptr;
};

glibc_layout glibc;
bool on = false;
bool dtv_known = false;  // the DTV's layout checked: dynamic blocks can be given back

// Each block: the static TLS area with the thread descriptor at its end, then the green
// thread's resolver state. Blocks are carved from slabs that are never unmapped (see tcb.hpp).
std::size_t block_bytes = 0;
std::size_t tp_in_block = 0;     // the thread pointer's offset in a block
std::size_t resolver_in_block = 0;
constexpr std::size_t slab_blocks = 64;  // one mapping per 64 TCBs

spinlock lock;                   // the pool, the list of TCBs handed out and the module list
std::vector<char*> free_tcbs;    // thread pointers, most recently released last
std::vector<char*> all_tcbs;     // every TCB ever made (refresh_static_tls walks them)
std::vector<module> modules;
std::size_t generation_seen = 0;  // dl_iterate_phdr's count of loads when `modules` was made
char* slab_next = nullptr;
std::size_t slab_left = 0;

// Set in a TCB taken back from the pool: its first enter() undoes what the previous thread left.
__thread bool tcb_reused __attribute__((tls_model("initial-exec")));

template <class T>
T& at(char* tp, std::ptrdiff_t offset)
{
    return *reinterpret_cast<T*>(tp + offset);
}

const std::uint32_t* descriptor(const char* name)
{
    return static_cast<const std::uint32_t*>(dlsym(RTLD_DEFAULT, name));
}

// The offset of a field of glibc's thread descriptor or link map, from the _thread_db_*
// descriptors (bits, count, offset), with the field size it must have.
bool field_offset(const char* name, std::uint32_t bits, std::size_t& offset)
{
    const std::uint32_t* d = descriptor(name);
    if (!d || d[0] != bits)
        return false;
    offset = d[2];
    return true;
}

struct tls_image {
    std::size_t modid;
    const char* image;
    std::size_t file_size;
    std::size_t mem_size;
    bool libc;
};

// Rebuilds `modules` from the link maps (which say where each module's block lies) and the
// program headers (which say where its image is). Under `lock`.
void collect_modules()
{
    std::vector<tls_image> images;
    Dl_info libc_info{};
    const void* libc_base = nullptr;
    if (dladdr(reinterpret_cast<void*>(glibc.ctype_init), &libc_info))
        libc_base = libc_info.dli_fbase;
    struct context {
        std::vector<tls_image>* images;
        const void* libc_base;
    } ctx{&images, libc_base};
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* data) {
            auto* c = static_cast<context*>(data);
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                const ElfW(Phdr)& ph = info->dlpi_phdr[i];
                if (ph.p_type != PT_TLS || info->dlpi_tls_modid == 0)
                    continue;
                // A module's base is where its first segment is mapped: the ELF header.
                bool libc = false;
                for (int j = 0; j < info->dlpi_phnum; ++j)
                    if (info->dlpi_phdr[j].p_type == PT_LOAD) {
                        libc = reinterpret_cast<const void*>(info->dlpi_addr +
                                                             info->dlpi_phdr[j].p_vaddr -
                                                             info->dlpi_phdr[j].p_offset) ==
                               c->libc_base;
                        break;
                    }
                c->images->push_back({info->dlpi_tls_modid,
                                      reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr),
                                      ph.p_filesz, ph.p_memsz, libc});
            }
            return 0;
        },
        &ctx);
    modules.clear();
    for (link_map* m = _r_debug.r_map; m; m = m->l_next) {
        char* map = reinterpret_cast<char*>(m);
        std::size_t modid = at<std::size_t>(map, glibc.map_tls_modid);
        std::size_t offset = at<std::size_t>(map, glibc.map_tls_offset);
        // 0 is "no offset yet" and -1 "forced dynamic" on TCB-at-TP targets: not static TLS.
        if (modid == 0 || offset == 0 || offset == std::size_t(-1) || offset > glibc.static_size)
            continue;
        for (const tls_image& t : images)
            if (t.modid == modid && t.mem_size <= offset)
                modules.push_back({offset, t.image, t.file_size, t.mem_size, t.libc});
    }
}

std::size_t loads_so_far()
{
    std::size_t adds = 0;
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t size, void* data) {
            if (size >= offsetof(dl_phdr_info, dlpi_subs))
                *static_cast<std::size_t*>(data) = std::size_t(info->dlpi_adds);
            return 1;
        },
        &adds);
    return adds;
}

// glibc's dtv_t: {counter} or {void* val; void* to_free}, 16 bytes; dtv[-1] holds the
// number of slots, dtv[0] the generation, dtv[modid] the module's block (val), with to_free
// set when the block was allocated on first use (modules loaded with dlopen).
struct dtv_slot {
    void* val;
    void* to_free;
};

dtv_slot* dtv_of(char* tp)
{
    return at<dtv_slot*>(tp, tcb_dtv);
}

// The OS thread's DTV must show every static module's block where its offset says.
bool dtv_layout_as_expected(char* tp)
{
    dtv_slot* dtv = dtv_of(tp);
    if (!dtv)
        return false;
    std::size_t slots = reinterpret_cast<std::size_t>(dtv[-1].val);
    if (slots == 0 || slots > 1 << 20)
        return false;
    for (link_map* m = _r_debug.r_map; m; m = m->l_next) {
        char* map = reinterpret_cast<char*>(m);
        std::size_t modid = at<std::size_t>(map, std::ptrdiff_t(glibc.map_tls_modid));
        std::size_t offset = at<std::size_t>(map, std::ptrdiff_t(glibc.map_tls_offset));
        if (modid == 0 || offset == 0 || offset == std::size_t(-1))
            continue;
        if (modid > slots || dtv[modid].val != tp - offset)
            return false;
    }
    return true;
}

// Gives back the blocks of dynamically loaded modules a previous green thread used, so that
// the next one starts from their images (they are allocated again on first use).
void forget_dynamic_blocks(char* tp)
{
    dtv_slot* dtv = dtv_of(tp);
    std::size_t slots = reinterpret_cast<std::size_t>(dtv[-1].val);
    for (std::size_t i = 1; i <= slots; ++i)
        if (dtv[i].to_free) {
            std::free(dtv[i].to_free);
            dtv[i].to_free = nullptr;
            dtv[i].val = reinterpret_cast<void*>(-1l);  // TLS_DTV_UNALLOCATED
        }
}

bool discover()
{
    using get_static_info_fn = void (*)(std::size_t*, std::size_t*);
    auto get_static_info =
        reinterpret_cast<get_static_info_fn>(dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info"));
    glibc.allocate_tls =
        reinterpret_cast<void* (*)(void*)>(dlsym(RTLD_DEFAULT, "_dl_allocate_tls"));
    glibc.ctype_init = reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "__ctype_init"));
    glibc.call_tls_dtors = reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "__call_tls_dtors"));
    auto* sizeof_pthread = descriptor("_thread_db_sizeof_pthread");
    if (!get_static_info || !glibc.allocate_tls || !glibc.ctype_init || !glibc.call_tls_dtors ||
        !sizeof_pthread)
        return false;
    get_static_info(&glibc.static_size, &glibc.static_align);
    glibc.pthread_size = *sizeof_pthread;
    if (glibc.static_align == 0 || (glibc.static_align & (glibc.static_align - 1)) ||
        glibc.pthread_size < 0x100 || glibc.static_size < glibc.pthread_size)
        return false;

    char* tp = current();
    if (at<char*>(tp, tcb_self_tcb) != tp || at<char*>(tp, tcb_self) != tp)
        return false;
    if (!field_offset("_thread_db_pthread_tid", 32, glibc.tid) ||
        at<int>(tp, glibc.tid) != int(syscall(SYS_gettid)))
        return false;
    // The child of a fork from a green thread runs on its TCB, and glibc unlinks the
    // child's descriptor from its thread lists there: the field must be a valid list node.
    if (!field_offset("_thread_db_pthread_list", 128, glibc.list) ||
        glibc.list + 16 > glibc.pthread_size)
        return false;
    if (!field_offset("_thread_db_link_map_l_tls_offset", 64, glibc.map_tls_offset) ||
        !field_offset("_thread_db_link_map_l_tls_modid", 64, glibc.map_tls_modid))
        return false;

    // What glibc's own thread set-up fills in, where the OS thread's TCB shows the layout.
    std::size_t specific = 0;
    if (field_offset("_thread_db_pthread_specific", 64 * 32, specific) &&
        specific >= key_block_bytes && at<char*>(tp, specific) == tp + specific - key_block_bytes)
        glibc.specific = specific;
    void* head = nullptr;
    std::size_t head_size = 0;
    if (syscall(SYS_get_robust_list, 0, &head, &head_size) == 0 && head) {
        std::ptrdiff_t off = static_cast<char*>(head) - tp;
        if (off > 0 && std::size_t(off) + head_size <= glibc.pthread_size) {
            glibc.robust_head = std::size_t(off);
            glibc.robust_futex_offset = at<std::intptr_t>(tp, glibc.robust_head + 8);
        }
    }
    if (auto* rseq_offset = static_cast<const std::ptrdiff_t*>(dlsym(RTLD_DEFAULT, "__rseq_offset")))
        if (*rseq_offset > 0 && std::size_t(*rseq_offset) + 8 <= glibc.pthread_size)
            glibc.rseq = *rseq_offset;
    auto* resp = static_cast<char*>(dlsym(RTLD_DEFAULT, "__resp"));
    if (!resp || resp >= tp || std::size_t(tp - resp) > glibc.static_size)
        return false;
    glibc.resp = resp - tp;

    // A block: the static TLS area below the thread pointer, the descriptor above it, then a
    // resolver state. What a thread touches lies near the thread pointer (the modules' used
    // blocks just below it, the descriptor, the resolver state); the rest of the area below
    // is the loader's surplus for libraries loaded later. So the thread pointer sits 1 KiB
    // into a page and a blocked green thread keeps one page of TCB resident, not two.
    constexpr std::size_t page = 4096, below_in_page = 1024;
    std::size_t align = glibc.static_align < 64 ? 64 : glibc.static_align;
    std::size_t below = glibc.static_size - glibc.pthread_size;
    std::size_t above = glibc.pthread_size + ((sizeof(struct __res_state) + align - 1) & ~(align - 1));
    if (align <= below_in_page && below_in_page + above <= page) {
        std::size_t rest = below > below_in_page ? below - below_in_page : 0;
        tp_in_block = ((rest + page - 1) & ~(page - 1)) + below_in_page;
    } else {
        tp_in_block = (below + align - 1) & ~(align - 1);
    }
    resolver_in_block = tp_in_block + glibc.pthread_size;
    resolver_in_block = (resolver_in_block + align - 1) & ~(align - 1);
    block_bytes = (resolver_in_block + sizeof(struct __res_state) + page - 1) & ~(page - 1);

    collect_modules();
    generation_seen = loads_so_far();
    dtv_known = dtv_layout_as_expected(tp);
    return !modules.empty();
}

char* new_block()
{
    if (slab_left == 0) {
        std::size_t bytes = block_bytes * slab_blocks;
        void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return nullptr;
        slab_next = static_cast<char*>(p);
        slab_left = slab_blocks;
    }
    char* block = slab_next;
    slab_next += block_bytes;
    --slab_left;
    return block;
}

// Copies the TLS images of every static-TLS module but libc into the TCB at `tp`. libc's
// block keeps the malloc tcache and arena of whichever green thread had the TCB before.
void reinitialise_static_tls(char* tp)
{
    for (const module& m : modules) {
        if (m.libc)
            continue;
        char* block = tp - m.offset;
        std::memcpy(block, m.image, m.file_size);
        std::memset(block + m.file_size, 0, m.mem_size - m.file_size);
    }
}

// The descriptor fields glibc's pthread_create sets, on a TCB whose TLS part is ready.
void fill_descriptor(char* tp, int os_tid)
{
    char* self = current();
    void* dtv = at<void*>(tp, tcb_dtv);
    std::memset(tp, 0, glibc.pthread_size);
    at<void*>(tp, tcb_dtv) = dtv;
    at<char*>(tp, tcb_self_tcb) = tp;
    at<char*>(tp, tcb_self) = tp;
    // 1 as in every thread of a process that has more than one: 2.36's malloc and stdio skip
    // their atomic instructions while it is 0.
    at<int>(tp, tcb_multiple_threads) = 1;
    at<std::uintptr_t>(tp, tcb_sysinfo) = at<std::uintptr_t>(self, tcb_sysinfo);
    at<std::uintptr_t>(tp, tcb_stack_guard) = at<std::uintptr_t>(self, tcb_stack_guard);
    at<std::uintptr_t>(tp, tcb_pointer_guard) = at<std::uintptr_t>(self, tcb_pointer_guard);
    at<unsigned>(tp, tcb_feature_1) = at<unsigned>(self, tcb_feature_1);
    at<int>(tp, glibc.tid) = os_tid;
    at<char*>(tp, glibc.list) = tp + glibc.list;  // an empty list: next and prev to itself
    at<char*>(tp, glibc.list + 8) = tp + glibc.list;
    if (glibc.specific)
        at<char*>(tp, glibc.specific) = tp + glibc.specific - key_block_bytes;
    if (glibc.robust_head) {
        // An empty list: its head points to itself. The kernel knows only the OS thread's.
        at<char*>(tp, glibc.robust_head) = tp + glibc.robust_head;
        at<std::intptr_t>(tp, glibc.robust_head + 8) = glibc.robust_futex_offset;
    }
    if (glibc.rseq)
        at<std::int32_t>(tp, std::size_t(glibc.rseq) + 4) = -2;  // RSEQ_CPU_ID_REGISTRATION_FAILED
}

char* resolver_state_of(char* tp)
{
    return tp - tp_in_block + resolver_in_block;
}

}  // namespace

void init(bool want)
{
    unsigned long hwcap2 = getauxval(AT_HWCAP2);
    green_fsgsbase_usable = (hwcap2 & HWCAP2_FSGSBASE) ? 1 : 0;
    on = want && discover() && dtv_known;
    if (want && !on)
        GREEN_LOG(warn, "libgreen: green threads share their OS thread's TLS: glibc's thread "
                        "descriptor is not laid out as this library expects");
}

bool enabled()
{
    return on;
}

char* acquire(int os_tid)
{
    // Libraries loaded since the last look may have static TLS that no TCB of ours has yet
    // (glibc initialises it only in the threads on its own lists). The look is one step of
    // dl_iterate_phdr for its count of loads: 26 ns here, against ~1 us for a create+join.
    refresh_static_tls();
    char* tp = nullptr;
    bool reused = false;
    {
        spinlock_guard g(lock);
        if (!free_tcbs.empty()) {
            tp = free_tcbs.back();
            free_tcbs.pop_back();
            reused = true;
        }
    }
    if (reused) {
        {
            spinlock_guard g(lock);
            reinitialise_static_tls(tp);
        }
        forget_dynamic_blocks(tp);
        fill_descriptor(tp, os_tid);
        at<void*>(tp, glibc.resp) = resolver_state_of(tp);
        *in(tp, tcb_reused) = true;
        return tp;
    }
    char* block;
    {
        spinlock_guard g(lock);
        block = new_block();
    }
    if (!block) {
        errno = ENOMEM;
        return nullptr;
    }
    tp = block + tp_in_block;
    {
        internal_scope scope;
        // The dynamic linker makes the DTV and copies every module's image (malloc: the
        // block is fresh from mmap, so it is zeroed as _dl_allocate_tls needs).
        if (!glibc.allocate_tls(tp)) {
            errno = ENOMEM;
            return nullptr;
        }
    }
    fill_descriptor(tp, os_tid);
    at<void*>(tp, glibc.resp) = resolver_state_of(tp);
    {
        spinlock_guard g(lock);
        all_tcbs.push_back(tp);
    }
    return tp;
}

void enter()
{
    if (tcb_reused) {
        // What the previous green thread changed in libc's block: its locale, h_errno, a
        // dlerror message nobody read.
        tcb_reused = false;
        uselocale(LC_GLOBAL_LOCALE);
        h_errno = 0;
        internal_scope scope;
        (void)dlerror();
    }
    glibc.ctype_init();
    errno = 0;
}

void leave()
{
    glibc.call_tls_dtors();
}

void set_tid(char* tp, int os_tid)
{
    at<int>(tp, std::ptrdiff_t(glibc.tid)) = os_tid;
}

void release(char* tp)
{
    spinlock_guard g(lock);
    free_tcbs.push_back(tp);
}

void refresh_static_tls()
{
    if (!on)
        return;
    std::size_t loads = loads_so_far();
    spinlock_guard g(lock);
    if (loads == generation_seen)
        return;
    std::vector<module> before = modules;
    collect_modules();
    generation_seen = loads;
    for (const module& m : modules) {
        bool known = false;
        for (const module& b : before)
            known = known || (b.offset == m.offset && b.image == m.image);
        if (known)
            continue;
        for (char* tp : all_tcbs) {
            char* block = tp - m.offset;
            std::memcpy(block, m.image, m.file_size);
            std::memset(block + m.file_size, 0, m.mem_size - m.file_size);
        }
    }
}

std::size_t made()
{
    spinlock_guard g(lock);
    return all_tcbs.size();
}

}  // namespace green::tcb
