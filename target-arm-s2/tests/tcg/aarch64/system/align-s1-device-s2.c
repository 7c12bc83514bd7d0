/*
 * Stage 1 Device under a stage 2 Normal mapping: unaligned accesses fault
 * on every access, TLB hits included
 *
 * Runs at EL2 (semihosting argument "2"): it maps RAM Normal write-back
 * at stage 2 and drops to EL1, where boot.S's stage 1 is on.  At EL1 an
 * aligned load fills the TLB with a page that stage 1 maps Device; an
 * unaligned load from the same page must then take an Alignment fault,
 * which needs TLB_CHECK_ALIGNED from the combined stage 1 + stage 2
 * attributes.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdint.h>
#include <minilib.h>
#include "fault-recorder.h"

#define BLOCK_2M            (2ul << 20)
#define ALIAS_DEVICE        (0x7fc00000ul)
#define ATTRIDX_DEVICE      2
#define DFSC_ALIGNMENT      0x21

static uint8_t buffer[4096] __attribute__((aligned(4096)));
static uint64_t s2_level1[512] __attribute__((aligned(4096)));
static uint8_t el1_stack[4096] __attribute__((aligned(16)));

static void semihosting_exit(int status)
{
    /* SYS_EXIT with ADP_Stopped_ApplicationExit and the status. */
    uint64_t block[2] = { 0x20026, status };

    asm volatile("mov x0, #0x18\n\t"
                 "mov x1, %0\n\t"
                 "hlt #0xf000" : : "r"(block) : "x0", "x1", "memory");
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

    ml_printf("%s\n", ok ? "PASSED" : "FAILED");
    semihosting_exit(ok ? 0 : 1);
}

int main(void)
{
    uint64_t *l2, ttbr0, mair, current_el;

    asm("mrs %0, CurrentEL" : "=r"(current_el));
    if ((current_el >> 2) != 2) {
        ml_printf("FAIL: run this test at EL2\n");
        return 1;
    }

    /* Stage 1 (boot.S's EL1 tables): a Device alias of buffer's block. */
    asm("mrs %0, mair_el1" : "=r"(mair));
    mair = (mair & ~(0xfful << (8 * ATTRIDX_DEVICE))) |
           (0x04ul << (8 * ATTRIDX_DEVICE));              /* Device-nGnRE */
    asm volatile("msr mair_el1, %0" : : "r"(mair));
    asm("mrs %0, ttbr0_el1" : "=r"(ttbr0));
    l2 = (uint64_t *)(((uint64_t *)(ttbr0 & 0xfffffffff000ul))[1] &
                      0xfffffffff000ul);
    l2[(ALIAS_DEVICE >> 21) & 511] = ((uint64_t)buffer & ~(BLOCK_2M - 1)) |
                                     (3ul << 53) | (1 << 10) |
                                     (ATTRIDX_DEVICE << 2) | 1;

    /* Stage 2: the 1 GiB of RAM at 1 GiB, Normal write-back, read-write. */
    s2_level1[1] = (1ul << 30) | (1 << 10) | (3 << 8) | (3 << 6) |
                   (0xf << 2) | 1;
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
