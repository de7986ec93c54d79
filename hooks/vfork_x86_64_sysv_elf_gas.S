/* vfork for x86-64 System V, ELF, GNU as.
 *
 * The vfork child runs on its parent's memory and stack until it execs or exits. Hooks called in
 * that window must not touch the runtime's state (the fd table, the hub): it is the parent's.
 * So vfork raises the calling thread's vfork depth before the system call, which makes every
 * hook pass straight through in the child with no bookkeeping (hooks/hook.hpp); the parent,
 * resumed once the child has exec'd or exited, lowers it again (green_vfork_leave). The child
 * returns with it raised, on purpose.
 *
 * As in glibc, the return address is kept in a register across the system call: the child
 * returns first and its calls overwrite the stack below the caller's frame, so the parent must
 * not find its return address there.
 *
 * Stack at entry:   rsp -> return address   (rsp = 8 mod 16)
 */
    .text
    .globl  vfork
    .type   vfork, @function
    .globl  __vfork
    .type   __vfork, @function
    .p2align 4
vfork:
__vfork:
    .cfi_startproc
    sub     $8, %rsp                 /* align for the call */
    .cfi_adjust_cfa_offset 8
    call    green_vfork_enter
    add     $8, %rsp
    .cfi_adjust_cfa_offset -8
    pop     %rdi                     /* the return address, kept in a register */
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rdi
    mov     $58, %eax                /* SYS_vfork */
    syscall
    push    %rdi
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rip, 0
    test    %rax, %rax
    jz      1f                       /* the child: return 0, hooks passing through */
    mov     %rax, %rdi
    lea     8(%rsp), %rsi            /* the caller's stack pointer, above its return address */
    sub     $8, %rsp
    .cfi_adjust_cfa_offset 8
    call    green_vfork_leave        /* the parent: lower the depth, set errno */
    add     $8, %rsp
    .cfi_adjust_cfa_offset -8
1:  ret
    .cfi_endproc
    .size   vfork, .-vfork
    .size   __vfork, .-__vfork

    .section .note.GNU-stack, "", @progbits
