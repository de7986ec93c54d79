/*
 * Context switch for x86-64, System V ABI, ELF, GNU as.
 *
 * void* green_context_switch(void** save_sp, void* load_sp, void* transfer, void* fs_base);
 *
 * Saves exactly the state the ABI says a callee must preserve (rbx, rbp, r12-r15, the MXCSR
 * control bits and the x87 control word) on the current stack, stores the stack pointer in
 * *save_sp, loads load_sp and restores the same state from there. It returns `transfer` in the
 * resumed context. Everything else (rax, rcx, rdx, rsi, rdi, r8-r11, vector registers) is
 * caller-saved, so the C++ side sees an ordinary call.
 *
 * A non-null fs_base becomes the thread pointer (the FS base) of the resumed context, between
 * the stack switch and the return: each green thread has a TCB of its own (tcb.hpp), and the
 * compiler may keep TLS addresses (errno's, __res_state's: glibc declares them const) across
 * any call, so no C or C++ frame may ever see the thread pointer change under it. Here no frame
 * does: the suspended one is left before, the resumed one entered after. `wrfsbase` when the
 * kernel allows user space to use it (green_fsgsbase_usable, set at start from AT_HWCAP2),
 * arch_prctl(ARCH_SET_FS) otherwise; the system call clobbers only rax, rcx and r11, which are
 * caller-saved.
 *
 * Frame on a suspended stack, lowest address first (the saved stack pointer points at +0):
 *
 *   +0   MXCSR (4 bytes)           +4  x87 control word (2 bytes), 2 bytes pad
 *   +8   r15
 *   +16  r14
 *   +24  r13
 *   +32  r12
 *   +40  rbx
 *   +48  rbp
 *   +56  return address
 *
 * A fresh context is the same frame built by green::make_context with r12 = entry function,
 * r13 = its argument and the return address = green_context_start, which calls
 * entry(argument, transfer) on a 16-byte aligned stack. Entry functions never return.
 */
        .hidden green_fsgsbase_usable

        .text
        .globl  green_context_switch
        .hidden green_context_switch
        .type   green_context_switch, @function
        .p2align 4
green_context_switch:
        .cfi_startproc
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        subq    $8, %rsp
        .cfi_adjust_cfa_offset 8
        stmxcsr (%rsp)
        fnstcw  4(%rsp)

        movq    %rsp, (%rdi)
        movq    %rsi, %rsp

        testq   %rcx, %rcx
        jz      2f
        cmpb    $0, green_fsgsbase_usable(%rip)
        je      1f
        wrfsbase %rcx
        jmp     2f
1:      movq    %rcx, %rsi              /* arch_prctl(ARCH_SET_FS, fs_base) */
        movl    $0x1002, %edi
        movl    $158, %eax              /* SYS_arch_prctl */
        syscall
2:
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        movq    %rdx, %rax
        ret
        .cfi_endproc
        .size   green_context_switch, .-green_context_switch

        .globl  green_context_start
        .hidden green_context_start
        .type   green_context_start, @function
        .p2align 4
green_context_start:
        .cfi_startproc
        .cfi_undefined rip      /* the outermost frame: unwinders and debuggers stop here */
        movq    %r13, %rdi
        movq    %rax, %rsi
        callq   *%r12
        ud2
        .cfi_endproc
        .size   green_context_start, .-green_context_start

        .section .note.GNU-stack, "", @progbits
