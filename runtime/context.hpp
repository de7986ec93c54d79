// The machine context of a suspended flow of control: just its stack pointer, because the
// switch pushes everything else onto that stack (see context_x86_64_sysv_elf_gas.S).
#pragma once

#include <cstddef>

extern "C" {
void* green_context_switch(void** save_sp, void* load_sp, void* transfer, void* fs_base);
void green_context_start();
// Whether the switch may use wrfsbase (the kernel set HWCAP2_FSGSBASE); tcb.cpp sets it.
extern unsigned char green_fsgsbase_usable;
}

namespace green {

using context_entry = void (*)(void* arg, void* transfer);

struct context {
    void* sp = nullptr;
};

// Builds a context that, when first switched to, calls entry(arg, transfer) at the top of the
// stack [limit, top). The entry function must never return.
context make_context(void* top, context_entry entry, void* arg);

// Suspends the running flow into `from` and resumes `to`; returns the transfer value that the
// flow which later resumes `from` passes. A non-null `fs_base` is the thread pointer `to` runs
// with; null leaves it as it is.
inline void* switch_context(context& from, const context& to, void* transfer = nullptr,
                            void* fs_base = nullptr)
{
    return green_context_switch(&from.sp, to.sp, transfer, fs_base);
}

}  // namespace green
