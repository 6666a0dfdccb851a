// The pod sandbox's process for arm64: as pause-x86_64.S (block SIGTERM and SIGINT, wait, exit 0).
    .globl _start
    .text
_start:
    mov x0, #0                 // rt_sigprocmask(SIG_BLOCK, &set, NULL, 8)
    adr x1, set
    mov x2, #0
    mov x3, #8
    mov x8, #135
    svc #0
1:
    adr x0, set                // rt_sigtimedwait(&set, NULL, NULL, 8)
    mov x1, #0
    mov x2, #0
    mov x3, #8
    mov x8, #137
    svc #0
    tbnz x0, #63, 1b           // -EINTR: wait again
    mov x0, #0                 // exit_group(0)
    mov x8, #94
    svc #0
    .balign 8
set:
    .quad 0x4002               // SIGINT (2) and SIGTERM (15): bits 1 and 14
