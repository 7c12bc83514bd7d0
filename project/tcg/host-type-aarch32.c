/*
 * A BAR's host memory type for an AArch32 guest with short descriptors
 *
 * A bare-metal program for the tests/tcg aarch64 system harness, run at
 * EL2 (semihosting argument "2") on -M virt -cpu max with the project's
 * vfio-user test device (tests-qtest/tests/vfio-user-wc-server.c):
 * check.py runs it once for each bar2-wc mode and compares the outcomes.
 *
 * At EL2, with the MMU off, it finds the device on bus 0 through the
 * ECAM, places BAR2 in the 32-bit MMIO window and enables memory decode.
 * Then, AArch32 EL1 (HCR_EL2.RW clear, no stage 2) with the
 * short-descriptor format maps RAM and the BAR as Normal write-back
 * sections, VA == PA, and loads: an aligned word from the BAR, an
 * unaligned word from RAM and one from the BAR.  It prints one line a
 * case:
 *
 *   RESULT: <case>: completed | EL1 data abort, DFSR <hex>
 *
 * The guest's own mapping never needs alignment; a host type of
 * DEVICE (bar2-wc=off) must make the unaligned load from the BAR take
 * an Alignment fault (DFSR.FS 0b00001), as a Device stage 2 does on
 * hardware.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdint.h>
#include <minilib.h>
#include "asm-label.h"
#include "el2-run-el1.h"
#include "wc-server-bar2.h"

#define BAR2_PATTERN        0x44332211u

static uint32_t short_l1[4096] __attribute__((aligned(16384)));
static uint32_t ram_word[2];

static void report(const char *what, uint64_t esr)
{
    uint64_t dfsr;

    asm("mrs %0, esr_el1" : "=r"(dfsr));
    if ((esr >> 26) == EC_HVC32 && (esr & 0xffff) == HVC_COMPLETED) {
        ml_printf("RESULT: %s: completed\n", what);
    } else if ((esr >> 26) == EC_HVC32 && (esr & 0xffff) == HVC_EXCEPTION) {
        ml_printf("RESULT: %s: EL1 data abort, DFSR %x\n", what,
                  (uint32_t)dfsr);
    } else {
        ml_printf("RESULT: %s: something else, ESR_EL2 %lx\n", what, esr);
    }
}

int main(void)
{
    uint64_t esr;
    uint32_t ram = (uint32_t)(uint64_t)ram_word;

    if (!start_at_el2_with_bar2()) {
        return 1;
    }
    /* EL2's MMU is off: an aligned store, as Device memory needs. */
    *(volatile uint32_t *)(uint64_t)BAR2_PA = BAR2_PATTERN;
    *(volatile uint32_t *)(uint64_t)(BAR2_PA + 4) = BAR2_PATTERN;

    /*
     * Sections for RAM and the BAR: Normal write-back (TEX 0b001, C, B),
     * read-write at PL1 (AP 0b01), domain 0.
     */
    for (uint32_t mb = 0x400; mb < 0x800; mb++) {
        short_l1[mb] = (mb << 20) | (1 << 12) | (1 << 10) |
                       (1 << 3) | (1 << 2) | 2;
    }
    short_l1[BAR2_PA >> 20] = BAR2_PA | (1 << 12) | (1 << 10) |
                              (1 << 3) | (1 << 2) | 2;

    asm volatile("msr vbar_el2, %0\n\t"
                 "msr hcr_el2, xzr\n\t"         /* RW 0: EL1 is AArch32 */
                 "msr ttbr0_el1, %1\n\t"
                 "msr tcr_el1, xzr\n\t"         /* TTBCR: EAE 0, N 0 */
                 "msr dacr32_el2, %2\n\t"       /* domain 0: client */
                 "msr vbar_el1, %3\n\t"
                 "msr sctlr_el1, %4\n\t"        /* M, C, I; A, TRE clear */
                 "dsb ishst\n\t"
                 "tlbi alle1\n\t"
                 "dsb ish\n\t"
                 "isb"
                 : : "r"(LABEL(el2_vectors)), "r"((uint64_t)short_l1),
                     "r"(1ul), "r"(LABEL(a32_vectors)), "r"(0x00c5107dul)
                 : "memory");

    esr = run_el1(LABEL(a32_load), SPSR_A32_SVC, BAR2_PA, 0);
    report("aligned LDR from BAR2", esr);
    if ((uint32_t)el1_x0 != BAR2_PATTERN) {
        ml_printf("FAIL: it read %x, not %x\n", (uint32_t)el1_x0,
                  BAR2_PATTERN);
        return 1;
    }
    report("unaligned LDR from RAM",
           run_el1(LABEL(a32_load), SPSR_A32_SVC, ram + 1, 0));
    report("unaligned LDR from BAR2",
           run_el1(LABEL(a32_load), SPSR_A32_SVC, BAR2_PA + 1, 0));
    return 0;
}
