#include "context.hpp"

#include <cstdint>

namespace green {

context make_context(void* top, context_entry entry, void* arg)
{
    // Leave 16 bytes above the frame so that, after `ret` pops the return address, the stack
    // pointer is 16-byte aligned: green_context_start's `call` then gives the entry function
    // the alignment the ABI promises (rsp + 8 aligned at entry).
    auto aligned_top = reinterpret_cast<std::uintptr_t>(top) & ~std::uintptr_t{15};
    auto* frame = reinterpret_cast<std::uint64_t*>(aligned_top - 16 - 8 * 8);

    std::uint32_t mxcsr;
    std::uint16_t fpu_cw;
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    asm volatile("fnstcw %0" : "=m"(fpu_cw));

    frame[0] = std::uint64_t{mxcsr} | (std::uint64_t{fpu_cw} << 32);
    frame[1] = 0;                                           // r15
    frame[2] = 0;                                           // r14
    frame[3] = reinterpret_cast<std::uint64_t>(arg);        // r13
    frame[4] = reinterpret_cast<std::uint64_t>(entry);      // r12
    frame[5] = 0;                                           // rbx
    frame[6] = 0;                                           // rbp: ends frame-pointer walks
    frame[7] = reinterpret_cast<std::uint64_t>(&green_context_start);
    return context{frame};
}

}  // namespace green
