/*
 * DC ZVA on Device memory faults in the stage that maps it Device
 *
 * Runs at EL2 (semihosting argument "2") on -cpu max, with a stage 2 of
 * its own, and drops to EL1 for each case (el2-run-el1.h).  The Arm ARM
 * checks DC ZVA's alignment per stage (the DC zero case of
 * S1HasAlignmentFault() and S2HasAlignmentFault()): Device memory faults
 * whatever the alignment, in the stage whose own attributes are Device,
 * and stage 1 finishes before stage 2 starts.  So:
 *
 * - stage 1 Device over an IPA that stage 2 does not map: a stage 1
 *   Alignment fault to EL1, not a stage 2 Translation fault;
 * - HCR_EL2.FWB with stage 2 forcing Normal write-back over a stage 1
 *   Device mapping (combined: Normal): a stage 1 Alignment fault;
 * - EL1's MMU off (data is Device-nGnRnE) over a stage 2 Device mapping:
 *   a stage 1 Alignment fault;
 * - stage 1 Normal over a stage 2 Device mapping: a stage 2 Alignment
 *   fault to EL2, with the IPA in HPFAR_EL2.
 *
 * None of them zeroes anything.
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

#define ALIAS_DEVICE        (0x7fc00000ul)
#define ATTRIDX_DEVICE      2
/* The IPA (and VA) at which stage 2 maps RAM Device-nGnRE. */
#define S2_DEVICE_IPA       (2ul << 30)
/* An IPA stage 2 leaves unmapped, and the VA stage 1 maps Device to it. */
#define S2_UNMAPPED_IPA     (3ul << 30)

#define EC_DABT_LOWER       0x24
#define EC_DABT_CURRENT     0x25
#define DFSC_ALIGNMENT      0x21
#define ISS_WNR             (1u << 6)

#define HCR_VM              (1ul << 0)
#define HCR_RW              (1ul << 31)
#define HCR_FWB             (1ul << 46)
#define SCTLR_M             (1ul << 0)

static uint8_t buffer[4096] __attribute__((aligned(4096)));
static uint64_t s2_level1[512] __attribute__((aligned(4096)));

static int ok = 1;

asm(
    "   .text\n"
    "el1_dc_zva:\n"                         /* x1 */
    "   dc      zva, x1\n"
    "   hvc     #0\n"
);

/*
 * DC ZVA at EL1 on @va, which aliases buffer[0]; return ESR_EL2 of the
 * exception back to EL2 (HVC #0: completed, HVC #1: EL1 took an
 * exception).  buffer[0] must still hold its marker.
 */
static uint64_t dc_zva_at_el1(uint64_t va, int *zeroed)
{
    uint64_t esr;

    buffer[0] = 0x5a;
    asm volatile("msr esr_el1, xzr\n\t"
                 "msr far_el1, xzr\n\t"
                 "dsb ishst; tlbi alle1; dsb ish; isb" : : : "memory");
    esr = run_el1(LABEL(el1_dc_zva), SPSR_EL1H, va, 0);
    *zeroed = buffer[0] != 0x5a;
    return esr;
}

static void expect_stage1_fault(const char *what, uint64_t va)
{
    uint64_t esr_el1, far_el1, esr;
    int zeroed, pass;

    esr = dc_zva_at_el1(va, &zeroed);
    asm("mrs %0, esr_el1" : "=r"(esr_el1));
    asm("mrs %0, far_el1" : "=r"(far_el1));
    pass = (esr >> 26) == EC_HVC64 && (esr & 0xffff) == HVC_EXCEPTION &&
           (esr_el1 >> 26) == EC_DABT_CURRENT &&
           (esr_el1 & 0x3f) == DFSC_ALIGNMENT && (esr_el1 & ISS_WNR) &&
           far_el1 == va && !zeroed;
    ml_printf("%s: %s: stage 1 Alignment fault to EL1, nothing zeroed "
              "(ESR_EL2 %lx, ESR_EL1 %lx, FAR_EL1 %lx, zeroed %d)\n",
              pass ? "PASS" : "FAIL", what, esr, esr_el1, far_el1, zeroed);
    ok &= pass;
}

static void expect_stage2_fault(const char *what, uint64_t va, uint64_t ipa)
{
    uint64_t hpfar, esr;
    int zeroed, pass;

    esr = dc_zva_at_el1(va, &zeroed);
    asm("mrs %0, hpfar_el2" : "=r"(hpfar));
    pass = (esr >> 26) == EC_DABT_LOWER && (esr & 0x3f) == DFSC_ALIGNMENT &&
           (esr & ISS_WNR) && hpfar == (ipa >> 12) << 4 && !zeroed;
    ml_printf("%s: %s: stage 2 Alignment fault to EL2, nothing zeroed "
              "(ESR_EL2 %lx, HPFAR_EL2 %lx, zeroed %d)\n",
              pass ? "PASS" : "FAIL", what, esr, hpfar, zeroed);
    ok &= pass;
}

int main(void)
{
    uint64_t current_el, mmfr2, sctlr;
    uint64_t in_gib = (uint64_t)buffer & ((1ul << 30) - 1);
    uint64_t device = ALIAS_DEVICE + ((uint64_t)buffer & (BLOCK_2M - 1));

    asm("mrs %0, CurrentEL" : "=r"(current_el));
    asm("mrs %0, id_aa64mmfr2_el1" : "=r"(mmfr2));
    if ((current_el >> 2) != 2 || ((mmfr2 >> 40) & 0xf) == 0) {
        ml_printf("FAIL: run this test at EL2 on a CPU with FEAT_S2FWB\n");
        return 1;
    }

    /*
     * Stage 1 (boot.S's EL1 tables): a Device alias of buffer's block,
     * the stage 2 Device IPAs flat and Normal, and a Device block on the
     * IPAs stage 2 leaves unmapped.
     */
    set_mair_attr(ATTRIDX_DEVICE, 0x04);                    /* Device-nGnRE */
    map_block_alias(ALIAS_DEVICE, buffer, ATTRIDX_DEVICE, 0);
    boot_level1_table()[S2_DEVICE_IPA >> 30] =
        S2_DEVICE_IPA | (1 << 10) | 1;
    boot_level1_table()[S2_UNMAPPED_IPA >> 30] =
        S2_UNMAPPED_IPA | (3ul << 53) | (1 << 10) | (ATTRIDX_DEVICE << 2) | 1;

    /* Stage 2: RAM Normal write-back, and again Device at 2 GiB. */
    s2_level1[1] = (1ul << 30) | (1 << 10) | (3 << 8) | (3 << 6) |
                   (0xf << 2) | 1;
    s2_level1[S2_DEVICE_IPA >> 30] = (1ul << 30) | (1 << 10) | (3 << 6) |
                                     (0x1 << 2) | 1;
    asm volatile("msr vbar_el2, %0\n\t"
                 "msr vbar_el1, %1\n\t"
                 "msr vtcr_el2, %2\n\t"
                 "msr vttbr_el2, %3\n\t"
                 "isb"
                 : : "r"(LABEL(el2_vectors)), "r"(LABEL(el1_vectors)),
                     "r"((1ul << 31) | (2ul << 16) | (3 << 12) | (1 << 10) |
                         (1 << 8) | (1 << 6) | 25),
                     "r"(s2_level1));
    set_hcr(HCR_RW | HCR_VM);

    expect_stage1_fault("stage 1 Device, IPA unmapped at stage 2",
                        S2_UNMAPPED_IPA + 0x40);
    expect_stage2_fault("stage 1 Normal, stage 2 Device",
                        S2_DEVICE_IPA + in_gib, S2_DEVICE_IPA + in_gib);

    asm("mrs %0, sctlr_el1" : "=r"(sctlr));
    asm volatile("msr sctlr_el1, %0; isb" : : "r"(sctlr & ~SCTLR_M));
    expect_stage1_fault("EL1 MMU off, stage 2 Device",
                        S2_DEVICE_IPA + in_gib);
    asm volatile("msr sctlr_el1, %0; isb" : : "r"(sctlr));

    /* Stage 2 forcing Normal write-back (MemAttr 0b0110) on RAM. */
    s2_level1[1] = (1ul << 30) | (1 << 10) | (3 << 8) | (3 << 6) |
                   (0x6 << 2) | 1;
    set_hcr(HCR_RW | HCR_VM | HCR_FWB);
    expect_stage1_fault("FWB, stage 1 Device, stage 2 forced Normal", device);
    set_hcr(HCR_RW | HCR_VM);

    ml_printf("%s\n", ok ? "PASSED" : "FAILED");
    return !ok;
}
