/*
 * Under a guest's stage 2, a TLB hit checks alignment as the fill did
 *
 * Runs at EL2 (semihosting argument "2") on -cpu max.  Each case drops
 * to EL1, runs a few instructions there and comes back with HVC: #0 when
 * they completed, #1 from EL1's data abort vector.  A stage 2 fault comes
 * back by itself.
 *
 * HCR_EL2.FWB, stage 2 forcing Normal write-back over a stage 1 Device
 * mapping: stage 1 checks alignment against its own attributes (the Arm
 * ARM's S1HasAlignmentFault()), so an unaligned load takes a stage 1
 * Alignment fault, both when it fills the TLB and when it hits the entry
 * of an aligned one.
 *
 * AArch32 EL1 with the short-descriptor format (HCR_EL2.RW clear), stage
 * 1 and stage 2 Normal: unaligned loads succeed, the filling one and a
 * hit.  The short-descriptor walk leaves the memory attributes empty,
 * which read as Device-nGnRnE; they must not make Normal memory need
 * alignment.  Through a stage 2 Device mapping an unaligned load takes a
 * stage 2 Alignment fault.  These AArch32 cases pass on QEMU without the
 * fix too: they are regression guards against deriving the check from
 * the combined attributes.
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

#define EC_DABT_LOWER       0x24
#define EC_DABT_CURRENT     0x25
#define DFSC_ALIGNMENT      0x21

#define HCR_VM              (1ul << 0)
#define HCR_RW              (1ul << 31)
#define HCR_FWB             (1ul << 46)

static uint8_t buffer[4096] __attribute__((aligned(4096)));
static uint64_t s2_level1[512] __attribute__((aligned(4096)));
static uint32_t short_l1[4096] __attribute__((aligned(16384)));

static int ok = 1;

static uint64_t sysreg_hcr(void)
{
    uint64_t hcr;

    asm("mrs %0, hcr_el2" : "=r"(hcr));
    return hcr;
}

static void flush_tlb(void)
{
    asm volatile("dsb ishst; tlbi vmalls12e1; dsb ish; isb" : : : "memory");
}

static const char *outcome(uint64_t esr)
{
    unsigned ec = esr >> 26;

    if ((ec == EC_HVC64 || ec == EC_HVC32) &&
        (esr & 0xffff) == HVC_COMPLETED) {
        return "completed";
    }
    if ((ec == EC_HVC64 || ec == EC_HVC32) &&
        (esr & 0xffff) == HVC_EXCEPTION) {
        return "EL1 data abort";
    }
    if (ec == EC_DABT_LOWER && (esr & 0x3f) == DFSC_ALIGNMENT) {
        return "stage 2 Alignment fault";
    }
    return "something else";
}

static void check(int pass, const char *what, uint64_t esr)
{
    uint64_t esr_el1;

    asm("mrs %0, esr_el1" : "=r"(esr_el1));
    ml_printf("%s: %s: %s (ESR_EL2 %lx, ESR_EL1 %lx)\n",
              pass ? "PASS" : "FAIL", what, outcome(esr), esr, esr_el1);
    ok &= pass;
}

/* EL1 took a data abort from EL1, an Alignment fault (ESR_EL1). */
static int stage1_alignment_fault(uint64_t esr)
{
    uint64_t esr_el1;

    asm("mrs %0, esr_el1" : "=r"(esr_el1));
    return outcome(esr)[0] == 'E' && (esr_el1 >> 26) == EC_DABT_CURRENT &&
           (esr_el1 & 0x3f) == DFSC_ALIGNMENT;
}

static int completed(uint64_t esr)
{
    return outcome(esr)[0] == 'c';
}

/*
 * FWB: stage 1 Device (an alias of buffer's block), stage 2 forcing
 * Normal write-back (MemAttr 0b0110): the combined type is Normal.
 */
static void fwb_over_stage1_device(void)
{
    uint64_t device = ALIAS_DEVICE + ((uint64_t)buffer & (BLOCK_2M - 1));
    uint64_t mmfr2, fill, hit;

    asm("mrs %0, id_aa64mmfr2_el1" : "=r"(mmfr2));
    if (((mmfr2 >> 40) & 0xf) == 0) {
        check(0, "the CPU has FEAT_S2FWB", 0);
        return;
    }

    /* boot.S's EL1 tables: a Device alias of buffer's 2 MiB block. */
    set_mair_attr(ATTRIDX_DEVICE, 0x04);                    /* Device-nGnRE */
    map_block_alias(ALIAS_DEVICE, buffer, ATTRIDX_DEVICE, 0);
    asm volatile("msr vbar_el1, %0" : : "r"(LABEL(el1_vectors)));

    s2_level1[1] = (1ul << 30) | (1 << 10) | (3 << 8) | (3 << 6) |
                   (0x6 << 2) | 1;
    set_hcr(sysreg_hcr() | HCR_RW | HCR_VM | HCR_FWB);

    asm volatile("msr esr_el1, xzr");
    fill = run_el1(LABEL(el1_load), SPSR_EL1H, device + 1, 0);
    check(stage1_alignment_fault(fill), "FWB, stage 1 Device, stage 2 "
          "forced Normal: an unaligned load that fills the TLB takes a "
          "stage 1 Alignment fault", fill);
    flush_tlb();
    asm volatile("msr esr_el1, xzr");
    hit = run_el1(LABEL(el1_load_twice), SPSR_EL1H, device + 1, device);
    check(stage1_alignment_fault(hit), "FWB, stage 1 Device, stage 2 "
          "forced Normal: an unaligned load that hits the TLB takes a "
          "stage 1 Alignment fault", hit);

    set_hcr(sysreg_hcr() & ~HCR_FWB);
}

/* AArch32 EL1, short descriptors: 1 MiB sections, VA == IPA. */
static void aarch32_short_descriptor(void)
{
    uint64_t pfr0, esr;
    uint32_t normal = (uint32_t)(uint64_t)buffer;
    uint32_t s2_device = S2_DEVICE_IPA + (normal & ((1u << 30) - 1));

    asm("mrs %0, id_aa64pfr0_el1" : "=r"(pfr0));
    if (((pfr0 >> 4) & 0xf) != 2) {
        check(0, "the CPU has AArch32 at EL1", 0);
        return;
    }

    /*
     * Sections for the 1 GiB of RAM and for the stage 2 Device IPAs:
     * Normal write-back (TEX 0b001, C, B), read-write at PL1 (AP 0b01),
     * domain 0.
     */
    for (uint32_t mb = 0x400; mb < 0xc00; mb++) {
        short_l1[mb] = (mb << 20) | (1 << 12) | (1 << 10) |
                       (1 << 3) | (1 << 2) | 2;
    }

    s2_level1[1] = (1ul << 30) | (1 << 10) | (3 << 8) | (3 << 6) |
                   (0xf << 2) | 1;                  /* Normal write-back */
    s2_level1[S2_DEVICE_IPA >> 30] = (1ul << 30) | (1 << 10) | (3 << 6) |
                                     (0x1 << 2) | 1;    /* Device-nGnRE */

    asm volatile("msr ttbr0_el1, %0\n\t"
                 "msr tcr_el1, xzr\n\t"         /* TTBCR: EAE 0, N 0 */
                 "msr dacr32_el2, %1\n\t"       /* domain 0: client */
                 "msr vbar_el1, %2\n\t"
                 "msr sctlr_el1, %3\n\t"        /* M, C, I; A, TRE clear */
                 "isb"
                 : : "r"((uint64_t)short_l1), "r"(1ul),
                     "r"(LABEL(a32_vectors)), "r"(0x00c5107dul));
    set_hcr((sysreg_hcr() & ~HCR_RW) | HCR_VM);

    esr = run_el1(LABEL(a32_load), SPSR_A32_SVC, normal + 1, 0);
    check(completed(esr), "AArch32, short descriptors, stage 2 Normal: "
          "unaligned LDR that fills the TLB", esr);

    flush_tlb();
    esr = run_el1(LABEL(a32_load_twice), SPSR_A32_SVC, normal + 1,
                  normal);
    check(completed(esr), "AArch32, short descriptors, stage 2 Normal: "
          "unaligned LDR that hits the TLB", esr);

    flush_tlb();
    esr = run_el1(LABEL(a32_load), SPSR_A32_SVC, s2_device + 1, 0);
    check((esr >> 26) == EC_DABT_LOWER && (esr & 0x3f) == DFSC_ALIGNMENT,
          "AArch32, short descriptors, stage 2 Device: unaligned LDR", esr);
}

int main(void)
{
    uint64_t current_el;

    asm("mrs %0, CurrentEL" : "=r"(current_el));
    if ((current_el >> 2) != 2) {
        ml_printf("FAIL: run this test at EL2\n");
        return 1;
    }

    asm volatile("msr vbar_el2, %0\n\t"
                 "msr vtcr_el2, %1\n\t"
                 "msr vttbr_el2, %2\n\t"
                 "isb"
                 : : "r"(LABEL(el2_vectors)),
                     "r"((1ul << 31) | (2ul << 16) | (3 << 12) | (1 << 10) |
                         (1 << 8) | (1 << 6) | 25),
                     "r"(s2_level1));

    fwb_over_stage1_device();
    aarch32_short_descriptor();

    ml_printf("%s\n", ok ? "PASSED" : "FAILED");
    return !ok;
}
