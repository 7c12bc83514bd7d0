/*
 * Alignment faults under a guest's stage 2
 *
 * Runs at EL2 (semihosting argument "2"): it maps RAM Normal write-back
 * at stage 2, and again Device-nGnRE at another IPA, and drops to EL1,
 * where boot.S's stage 1 is on.
 *
 * Stage 1 Device, stage 2 Normal: an aligned load fills the TLB with the
 * page; an unaligned load from the same page must then take an Alignment
 * fault at EL1, which needs the TLB_CHECK_ALIGNED of the stage 1 walk to
 * survive stage 2's.
 *
 * Stage 1 Normal, stage 2 Device: an unaligned load takes an Alignment
 * fault at stage 2, to EL2, with the IPA in HPFAR_EL2, both when it fills
 * the TLB and when it hits the entry of an aligned load.
 *
 * EL1's MMU off, stage 2 Normal: data is Device-nGnRnE, so an unaligned
 * load takes a stage 1 Alignment fault, filling and hitting the TLB.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdint.h>
#include <minilib.h>
#include "el1-block-alias.h"
#include "fault-recorder.h"

#define ALIAS_DEVICE        (0x7fc00000ul)
#define ATTRIDX_DEVICE      2
#define DFSC_ALIGNMENT      0x21
/* The IPA (and VA) at which stage 2 maps RAM Device-nGnRE. */
#define S2_DEVICE_IPA       (2ul << 30)
#define EC_DABT_LOWER       0x24

static uint8_t buffer[4096] __attribute__((aligned(4096)));
static uint64_t s2_level1[512] __attribute__((aligned(4096)));
static uint8_t el1_stack[4096] __attribute__((aligned(16)));

/*
 * Stage 2 faults, recorded at EL2 like fault-recorder.h does at EL1:
 * written by the exception handler, behind the compiler's back.
 */
static volatile uint64_t __attribute__((used)) s2_fault_esr, s2_fault_hpfar;
static volatile unsigned __attribute__((used)) s2_fault_count;   /* as above */

asm(
    "   .text\n"
    "   .balign 2048\n"
    "el2_vectors:\n"
    "   .rept 8\n"
    "   b       el2_unexpected\n"
    "   .balign 128\n"
    "   .endr\n"
    "   b       el2_record_sync\n"          /* lower EL, AArch64, sync */
    "   .balign 128\n"
    "   .rept 7\n"
    "   b       el2_unexpected\n"
    "   .balign 128\n"
    "   .endr\n"
    "el2_unexpected:\n"
    "   mov     x0, #0x18\n"                 /* SYS_EXIT, status 1 */
    "   adr     x1, el2_exit_block\n"
    "   hlt     #0xf000\n"
    "el2_record_sync:\n"
    "   stp     x0, x1, [sp, #-16]!\n"
    "   adrp    x0, s2_fault_esr\n"
    "   mrs     x1, esr_el2\n"
    "   str     x1, [x0, :lo12:s2_fault_esr]\n"
    "   adrp    x0, s2_fault_hpfar\n"
    "   mrs     x1, hpfar_el2\n"
    "   str     x1, [x0, :lo12:s2_fault_hpfar]\n"
    "   adrp    x0, s2_fault_count\n"
    "   ldr     w1, [x0, :lo12:s2_fault_count]\n"
    "   add     w1, w1, #1\n"
    "   str     w1, [x0, :lo12:s2_fault_count]\n"
    "   mrs     x0, elr_el2\n"
    "   add     x0, x0, #4\n"
    "   msr     elr_el2, x0\n"
    "   ldp     x0, x1, [sp], #16\n"
    "   eret\n"
    "   .balign 8\n"
    "el2_exit_block:\n"
    "   .quad   0x20026, 1\n"
);

/* A stage 2 Alignment fault for the access at @ipa, taken to EL2? */
static int stage2_alignment_fault(uint64_t ipa)
{
    return s2_fault_count == 1 &&
           (s2_fault_esr >> 26) == EC_DABT_LOWER &&
           (s2_fault_esr & 0x3f) == DFSC_ALIGNMENT &&
           s2_fault_hpfar == ((ipa >> 12) << 4) &&
           fault_count == 0;
}

static void semihosting_exit(int status)
{
    /* SYS_EXIT with ADP_Stopped_ApplicationExit and the status. */
    uint64_t block[2] = { 0x20026, status };

    asm volatile("mov x0, #0x18\n\t"
                 "mov x1, %0\n\t"
                 "hlt #0xf000" : : "r"(block) : "x0", "x1", "memory");
}

/* Stage 1 Alignment faults at EL1 that el1_mmu_off_loads() counted. */
static int mmu_off_faults;

/*
 * With EL1's MMU off: an unaligned load from @unaligned (it fills the
 * TLB), an aligned one from @aligned and an unaligned one from the same
 * page, @hit (a TLB hit).  Counts the loads that took a stage 1 Alignment
 * fault; nothing but registers is touched while the MMU is off.
 */
static void el1_mmu_off_loads(uint64_t unaligned, uint64_t aligned,
                              uint64_t hit)
{
    unsigned before[3];
    uint64_t esr[3];
    const uint64_t *addr[3] = { (uint64_t *)unaligned, (uint64_t *)aligned,
                                (uint64_t *)hit };

    mmu_off_faults = 0;
    for (int i = 0; i < 3; i++) {
        before[i] = fault_count;
        asm volatile("mrs x9, sctlr_el1\n\t"
                     "bic x10, x9, #1\n\t"
                     "msr sctlr_el1, x10\n\t"
                     "isb\n\t"
                     "ldr x11, [%0]\n\t"
                     "msr sctlr_el1, x9\n\t"
                     "isb"
                     : : "r"(addr[i]) : "x9", "x10", "x11", "memory");
        esr[i] = fault_esr;
        if (fault_count != before[i] && (esr[i] >> 26) == 0x25 &&
            (esr[i] & 0x3f) == DFSC_ALIGNMENT) {
            mmu_off_faults++;
        }
        if (i == 1 && fault_count != before[i]) {
            mmu_off_faults = -1;        /* the aligned load must not fault */
        }
    }
}

static void __attribute__((used)) at_el1(void)
{
    uint64_t device = ALIAS_DEVICE + ((uint64_t)buffer & (BLOCK_2M - 1));
    uint64_t value;
    int ok;

    install_fault_recorder();

    /* Fill the TLB with the page, then hit it unaligned. */
    asm volatile("ldr %0, [%1]" : "=r"(value) : "r"(device) : "memory");
    ok = fault_count == 0;
    ml_printf("%s: aligned load from stage 1 Device, stage 2 Normal\n",
              ok ? "PASS" : "FAIL");

    asm volatile("ldr %0, [%1]" : "=r"(value) : "r"(device + 1) : "memory");
    ok &= fault_count == 1 && (fault_esr & 0x3f) == DFSC_ALIGNMENT;
    ml_printf("%s: unaligned load from the same page takes an Alignment "
              "fault (faults %d)\n", ok ? "PASS" : "FAIL", fault_count);

    /* Stage 1 Normal (boot.S's identity map), stage 2 Device. */
    fault_count = 0;
    device = S2_DEVICE_IPA + ((uint64_t)buffer & ((1ul << 30) - 1));
    asm volatile("ldr %0, [%1]" : "=r"(value) : "r"(device + 1) : "memory");
    ok &= stage2_alignment_fault(device + 1);
    ml_printf("%s: unaligned load, stage 1 Normal, stage 2 Device: stage 2 "
              "Alignment fault (EL1 %d, EL2 %d, ESR_EL2 %lx)\n",
              stage2_alignment_fault(device + 1) ? "PASS" : "FAIL",
              fault_count, s2_fault_count, s2_fault_esr);

    /* The same page through a TLB hit: the fault is still stage 2's. */
    s2_fault_count = 0;
    asm volatile("ldr %0, [%1]" : "=r"(value) : "r"(device) : "memory");
    asm volatile("ldr %0, [%1]" : "=r"(value) : "r"(device + 1) : "memory");
    ok &= stage2_alignment_fault(device + 1);
    ml_printf("%s: unaligned load that hits the TLB, stage 1 Normal, stage 2 "
              "Device: stage 2 Alignment fault (EL1 %d, EL2 %d, ESR_EL2 %lx)\n",
              stage2_alignment_fault(device + 1) ? "PASS" : "FAIL",
              fault_count, s2_fault_count, s2_fault_esr);

    /* EL1's MMU off: data is Device-nGnRnE, whatever stage 2 says. */
    fault_count = s2_fault_count = 0;
    el1_mmu_off_loads((uint64_t)buffer + 1, (uint64_t)buffer + 8,
                      (uint64_t)buffer + 9);
    ok &= mmu_off_faults == 2;
    ml_printf("%s: EL1 MMU off, stage 2 Normal: an unaligned load that fills "
              "the TLB and one that hits it take a stage 1 Alignment fault "
              "(%d of 2, EL2 %d)\n", mmu_off_faults == 2 ? "PASS" : "FAIL",
              mmu_off_faults, s2_fault_count);

    ml_printf("%s\n", ok ? "PASSED" : "FAILED");
    semihosting_exit(ok ? 0 : 1);
}

int main(void)
{
    uint64_t current_el;

    asm("mrs %0, CurrentEL" : "=r"(current_el));
    if ((current_el >> 2) != 2) {
        ml_printf("FAIL: run this test at EL2\n");
        return 1;
    }

    /* Stage 1 (boot.S's EL1 tables): a Device alias of buffer's block. */
    set_mair_attr(ATTRIDX_DEVICE, 0x04);                    /* Device-nGnRE */
    map_block_alias(ALIAS_DEVICE, buffer, ATTRIDX_DEVICE, 0);

    /*
     * Stage 1 for S2_DEVICE_IPA: a 1 GiB block, Normal (boot.S's MAIR
     * attribute 0), identity mapped.
     */
    boot_level1_table()[S2_DEVICE_IPA >> 30] =
        S2_DEVICE_IPA | (1 << 10) | 1;

    /*
     * Stage 2: the 1 GiB of RAM at 1 GiB, Normal write-back, read-write,
     * and again at S2_DEVICE_IPA, Device-nGnRE.
     */
    s2_level1[1] = (1ul << 30) | (1 << 10) | (3 << 8) | (3 << 6) |
                   (0xf << 2) | 1;
    s2_level1[S2_DEVICE_IPA >> 30] = (1ul << 30) | (1 << 10) | (3 << 6) |
                                     (0x1 << 2) | 1;
    asm volatile("adr x0, el2_vectors; msr vbar_el2, x0; isb" : : : "x0");
    asm volatile("msr vtcr_el2, %0" : : "r"((1ul << 31) | (2ul << 16) |
                 (3 << 12) | (1 << 10) | (1 << 8) | (1 << 6) | 25));
    asm volatile("msr vttbr_el2, %0" : : "r"(s2_level1));
    asm volatile("mrs x0, hcr_el2\n\t"
                 "orr x0, x0, #(1 << 31)\n\t"             /* RW */
                 "orr x0, x0, #1\n\t"                     /* VM */
                 "msr hcr_el2, x0" : : : "x0");
    asm volatile("dsb ishst; tlbi alle1; tlbi vmalls12e1; dsb ish; isb"
                 : : : "memory");

    /* Drop to EL1h, interrupts masked, on el1_stack. */
    asm volatile("msr sp_el1, %0\n\t"
                 "msr elr_el2, %1\n\t"
                 "msr spsr_el2, %2\n\t"
                 "isb\n\t"
                 "eret"
                 : : "r"(el1_stack + sizeof(el1_stack)), "r"(at_el1),
                     "r"(0x3c5ul) : "memory");
    return 1;   /* not reached */
}
