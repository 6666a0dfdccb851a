# The pod sandbox's process (agent/podnet/pause/image.ts): holds the pod's namespaces and does nothing.
# As PID 1 of its container a signal without a handler is dropped, so SIGTERM and SIGINT are blocked and
# waited for (a blocked signal is never dropped), then it exits 0. No libc: three system calls.
    .globl _start
    .text
_start:
    mov $14, %eax              # rt_sigprocmask(SIG_BLOCK, &set, NULL, 8)
    xor %edi, %edi
    lea set(%rip), %rsi
    xor %edx, %edx
    mov $8, %r10d
    syscall
1:
    mov $128, %eax             # rt_sigtimedwait(&set, NULL, NULL, 8)
    lea set(%rip), %rdi
    xor %esi, %esi
    xor %edx, %edx
    mov $8, %r10d
    syscall
    test %eax, %eax            # -EINTR (a stop and continue): wait again
    js 1b
    mov $231, %eax             # exit_group(0)
    xor %edi, %edi
    syscall
    .balign 8
set:
    .quad 0x4002               # SIGINT (2) and SIGTERM (15): bits 1 and 14
