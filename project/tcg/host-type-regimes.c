/*
 * A BAR's host memory type in each translation regime a KVM guest has
 *
 * A bare-metal program for the tests/tcg aarch64 system harness, run at
 * EL2 (semihosting argument "2") on -M virt,virtualization=on -cpu max
 * with the project's vfio-user test device
 * (tests-qtest/tests/vfio-user-wc-server.c): check.py runs it once for
 * each bar2-wc mode and compares the outcomes.
 *
 * TCG models the host memory type as a KVM host's stage 2 after the
 * guest's own translation.  KVM with the Linux series injects the
 * Alignment fault such a stage 2 causes as the guest's own stage 1 fault,
 * at the exception level the guest's own fault would go to: EL2 for a
 * guest hypervisor (nested virtualization), EL1 for a guest under it,
 * never as a stage 2 fault to the guest hypervisor, which did not make
 * the memory Device.  So, with the BAR mapped Normal by every stage the
 * guest has:
 *
 *  - EL2 (a guest hypervisor, its own stage 1): an unaligned load;
 *  - EL1 under the guest hypervisor's stage 2: an unaligned load;
 *
 * each print "RESULT: <case>: completed", or the exception level that
 * took the fault and its ESR's EC and DFSC.  With bar2-wc=off (host type
 * DEVICE) both must take an Alignment fault at their own EL; with on and
 * auto both complete.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdint.h>
#include <minilib.h>
#include "asm-label.h"
#include "el1-block-alias.h"
#include "el2-run-el1.h"
#include "wc-server-bar2.h"


#define DESC_AF             (1ul << 10)
#define DESC_BLOCK          1ul
#define HCR_VM              (1ul << 0)
#define HCR_RW              (1ul << 31)
#define SCTLR_M             (1ul << 0)
#define SCTLR_C             (1ul << 2)
#define SCTLR_I             (1ul << 12)

static uint64_t el2_level1[512] __attribute__((aligned(4096)));
static uint64_t s2_level1[512] __attribute__((aligned(4096)));

/* What EL2's own-EL vector saw, written behind the compiler's back. */
static volatile uint64_t __attribute__((used)) el2_esr;

/*
 * EL2's vectors while EL2 itself runs the case: a synchronous exception
 * from EL2 records ESR_EL2 and steps over the instruction.
 */
asm(
    "   .text\n"
    "   .balign 2048\n"
    "el2_self_vectors:\n"
    "   .rept 4\n"
    "   b       el2_unexpected\n"
    "   .balign 128\n"
    "   .endr\n"
    "   stp     x0, x1, [sp, #-16]!\n"      /* current EL, SPx, sync */
    "   adrp    x0, el2_esr\n"
    "   mrs     x1, esr_el2\n"
    "   str     x1, [x0, :lo12:el2_esr]\n"
    "   mrs     x0, elr_el2\n"
    "   add     x0, x0, #4\n"
    "   msr     elr_el2, x0\n"
    "   ldp     x0, x1, [sp], #16\n"
    "   eret\n"
    "   .balign 128\n"
    "   .rept 11\n"
    "   b       el2_unexpected\n"
    "   .balign 128\n"
    "   .endr\n"
);

static void report_fault(const char *what, const char *el, uint64_t esr)
{
    ml_printf("RESULT: %s: fault to %s, EC %x, DFSC %x\n", what, el,
              (unsigned)(esr >> 26), (unsigned)(esr & 0x3f));
}

/* EL2 with its own stage 1 (non-VHE): an unaligned load from BAR2. */
static void at_el2(void)
{
    uint64_t sctlr, value;

    /* Flat, Normal write-back (MAIR_EL2 attribute 0): the BAR and RAM. */
    el2_level1[0] = 0 | DESC_AF | DESC_BLOCK;
    el2_level1[1] = (1ul << 30) | DESC_AF | DESC_BLOCK;
    asm("mrs %0, sctlr_el2" : "=r"(sctlr));
    asm volatile("msr mair_el2, %0\n\t"
                 "msr tcr_el2, %1\n\t"
                 "msr ttbr0_el2, %2\n\t"
                 "msr vbar_el2, %3\n\t"
                 "dsb ish\n\t"
                 "tlbi alle2\n\t"
                 "dsb ish\n\t"
                 "isb\n\t"
                 "msr sctlr_el2, %4\n\t"
                 "isb"
                 : : "r"(0xfful),
                     /* 40-bit PA, 4K, inner shareable WB, 39-bit VA */
                     "r"((1ul << 31) | (1ul << 23) | (2ul << 16) |
                         (3 << 12) | (1 << 10) | (1 << 8) | 25),
                     "r"(el2_level1), "r"(LABEL(el2_self_vectors)),
                     "r"(sctlr | SCTLR_M | SCTLR_C | SCTLR_I)
                 : "memory");

    el2_esr = 0;
    asm volatile("ldr %0, [%1]" : "=r"(value) : "r"((uint64_t)BAR2_PA + 1) : "memory");
    if (el2_esr) {
        report_fault("unaligned load at EL2 from BAR2", "EL2", el2_esr);
    } else {
        ml_printf("RESULT: unaligned load at EL2 from BAR2: completed\n");
    }

    asm volatile("msr sctlr_el2, %0\n\t"
                 "isb\n\t"
                 "msr vbar_el2, %1\n\t"
                 "isb"
                 : : "r"(sctlr), "r"(LABEL(el2_vectors)) : "memory");
}

/* EL1 under EL2's stage 2, both mapping BAR2 Normal: an unaligned load. */
static void at_el1(void)
{
    uint64_t esr, esr_el1;

    /* boot.S's EL1 tables map RAM; the first GiB, Normal, for the BAR. */
    boot_level1_table()[0] = 0 | DESC_AF | DESC_BLOCK;
    /* Stage 2: the first two GiB flat, Normal write-back, read-write. */
    s2_level1[0] = 0 | DESC_AF | (3 << 8) | (3 << 6) | (0xf << 2) |
                   DESC_BLOCK;
    s2_level1[1] = (1ul << 30) | DESC_AF | (3 << 8) | (3 << 6) |
                   (0xf << 2) | DESC_BLOCK;
    asm volatile("msr vbar_el1, %0\n\t"
                 "msr vtcr_el2, %1\n\t"
                 "msr vttbr_el2, %2\n\t"
                 "msr hcr_el2, %3\n\t"
                 "msr esr_el1, xzr\n\t"
                 "dsb ishst\n\t"
                 "tlbi alle1\n\t"
                 "dsb ish\n\t"
                 "isb"
                 : : "r"(LABEL(el1_vectors)),
                     "r"((1ul << 31) | (2ul << 16) | (3 << 12) | (1 << 10) |
                         (1 << 8) | (1 << 6) | 25),
                     "r"(s2_level1), "r"(HCR_RW | HCR_VM)
                 : "memory");

    esr = run_el1(LABEL(el1_load), SPSR_EL1H, BAR2_PA + 1, 0);
    asm("mrs %0, esr_el1" : "=r"(esr_el1));
    if ((esr >> 26) == EC_HVC64 && (esr & 0xffff) == HVC_COMPLETED) {
        ml_printf("RESULT: unaligned load at EL1 from BAR2: completed\n");
    } else if ((esr >> 26) == EC_HVC64 && (esr & 0xffff) == HVC_EXCEPTION) {
        report_fault("unaligned load at EL1 from BAR2", "EL1", esr_el1);
    } else {
        report_fault("unaligned load at EL1 from BAR2", "EL2", esr);
    }
}

int main(void)
{
    if (!start_at_el2_with_bar2()) {
        return 1;
    }
    asm volatile("msr vbar_el2, %0; isb" : : "r"(LABEL(el2_vectors)));

    at_el2();
    at_el1();
    return 0;
}
