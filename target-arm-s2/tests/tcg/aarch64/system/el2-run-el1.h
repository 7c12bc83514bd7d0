/*
 * EL2 running EL1 code, for aarch64 system tests at EL2
 *
 * run_el1() enters EL1 (AArch64 or AArch32, as the SPSR says) with ERET
 * and returns ESR_EL2 of the synchronous exception that brings it back
 * to EL2: an HVC of EL1's own, or a stage 2 fault.  The test installs
 * el2_vectors in VBAR_EL2; any other exception to EL2 exits with status
 * 1.  EL1's last X0 (R0) is in el1_x0.
 *
 * EL1 code to run: el1_load loads X1, el1_load_twice X2 then X1, and
 * returns with HVC #0; a32_load and a32_load_twice do the same with R1
 * and R2 in A32.  Their vectors, el1_vectors and a32_vectors (for
 * VBAR_EL1), return any exception with HVC #1.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef AARCH64_SYSTEM_EL2_RUN_EL1_H
#define AARCH64_SYSTEM_EL2_RUN_EL1_H

#include <stdint.h>

#define EC_HVC32            0x12
#define EC_HVC64            0x16
#define HVC_COMPLETED       0           /* EL1's code ran to its end */
#define HVC_EXCEPTION       1           /* EL1 took an exception */

#define SPSR_EL1H           0x3c5ul       /* AArch64 EL1h, DAIF masked */
#define SPSR_A32_SVC        0x1d3ul       /* AArch32 Supervisor, AIF masked */

/* R0 or X0 when EL1 came back, written behind the compiler's back. */
static volatile uint64_t __attribute__((used)) el1_x0;

/*
 * enter_el1 enters EL1 at x0 with SPSR x1 and x2, x3 as EL1's x1, x2 (r1
 * and r2 for AArch32), and returns ESR_EL2 of the exception that brings
 * it back, as a procedure call.  Coming back from AArch32 leaves x8-x30
 * UNKNOWN, so the callee-saved registers are restored from the stack,
 * which is SP_EL2's.
 */
asm(
    "   .text\n"
    "   .balign 2048\n"
    "el2_vectors:\n"
    "   .rept 8\n"
    "   b       el2_unexpected\n"
    "   .balign 128\n"
    "   .endr\n"
    "   b       el2_from_el1\n"             /* lower EL, AArch64, sync */
    "   .balign 128\n"
    "   .rept 3\n"
    "   b       el2_unexpected\n"
    "   .balign 128\n"
    "   .endr\n"
    "   b       el2_from_el1\n"             /* lower EL, AArch32, sync */
    "   .balign 128\n"
    "   .rept 3\n"
    "   b       el2_unexpected\n"
    "   .balign 128\n"
    "   .endr\n"
    "el2_unexpected:\n"
    "   mov     x0, #0x18\n"                 /* SYS_EXIT, status 1 */
    "   adr     x1, el2_exit_block\n"
    "   hlt     #0xf000\n"
    "   .balign 8\n"
    "el2_exit_block:\n"
    "   .quad   0x20026, 1\n"
    "enter_el1:\n"
    "   stp     x29, x30, [sp, #-96]!\n"
    "   stp     x19, x20, [sp, #16]\n"
    "   stp     x21, x22, [sp, #32]\n"
    "   stp     x23, x24, [sp, #48]\n"
    "   stp     x25, x26, [sp, #64]\n"
    "   stp     x27, x28, [sp, #80]\n"
    "   msr     elr_el2, x0\n"
    "   msr     spsr_el2, x1\n"
    "   mov     x1, x2\n"
    "   mov     x2, x3\n"
    "   isb\n"
    "   eret\n"
    "el2_from_el1:\n"
    "   adrp    x1, el1_x0\n"
    "   str     x0, [x1, :lo12:el1_x0]\n"
    "   mrs     x0, esr_el2\n"
    "   ldp     x19, x20, [sp, #16]\n"
    "   ldp     x21, x22, [sp, #32]\n"
    "   ldp     x23, x24, [sp, #48]\n"
    "   ldp     x25, x26, [sp, #64]\n"
    "   ldp     x27, x28, [sp, #80]\n"
    "   ldp     x29, x30, [sp], #96\n"
    "   ret\n"
);

asm(
    "   .text\n"
    /* AArch64 EL1: every exception goes back to EL2 as HVC #1. */
    "   .balign 2048\n"
    "el1_vectors:\n"
    "   .rept 16\n"
    "   hvc     #1\n"
    "   .balign 128\n"
    "   .endr\n"
    "el1_load:\n"                           /* x1 */
    "   ldr     x0, [x1]\n"
    "   hvc     #0\n"
    "el1_load_twice:\n"                     /* x2, then x1 */
    "   ldr     x0, [x2]\n"
    "   ldr     x0, [x1]\n"
    "   hvc     #0\n"

    /* AArch32 EL1, A32 code: every exception goes back to EL2 as HVC #1. */
    "   .balign 32\n"
    "a32_vectors:\n"
    "   .rept 8\n"
    "   .inst   0xe1400071\n"               /* hvc #1 */
    "   .endr\n"
    "a32_load:\n"                           /* r1 */
    "   .inst   0xe5910000\n"               /* ldr r0, [r1] */
    "   .inst   0xe1400070\n"               /* hvc #0 */
    "a32_load_twice:\n"                     /* r2, then r1 */
    "   .inst   0xe5920000\n"               /* ldr r0, [r2] */
    "   .inst   0xe5910000\n"               /* ldr r0, [r1] */
    "   .inst   0xe1400070\n"               /* hvc #0 */
);

/*
 * Enter EL1 at @elr with SPSR @spsr, and @x1, @x2 as EL1's X1, X2 (R1
 * and R2 for AArch32); return ESR_EL2 of the exception back to EL2.
 */
static uint64_t run_el1(uint64_t elr, uint64_t spsr, uint64_t x1,
                        uint64_t x2)
{
    register uint64_t x0_ asm("x0") = elr;
    register uint64_t x1_ asm("x1") = spsr;
    register uint64_t x2_ asm("x2") = x1;
    register uint64_t x3_ asm("x3") = x2;

    asm volatile("bl enter_el1"
                 : "+r"(x0_), "+r"(x1_), "+r"(x2_), "+r"(x3_)
                 : : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11",
                     "x12", "x13", "x14", "x15", "x16", "x17", "x18",
                     "x30", "cc", "memory");
    return x0_;
}


/* Set HCR_EL2 to @hcr, dropping the EL1&0 TLB entries it may change. */
static inline void set_hcr(uint64_t hcr)
{
    asm volatile("msr hcr_el2, %0\n\t"
                 "isb\n\t"
                 "dsb ishst\n\t"
                 "tlbi alle1\n\t"
                 "dsb ish\n\t"
                 "isb" : : "r"(hcr) : "memory");
}

#endif
