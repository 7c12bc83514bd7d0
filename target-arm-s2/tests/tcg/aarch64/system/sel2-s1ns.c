/*
 * Secure EL2: HPFAR_EL2.NS says which IPA space a stage 2 fault is in
 *
 * Runs at EL3 (semihosting argument "3") with FEAT_SEL2.  The Secure and
 * the Non-secure stage 2 (VSTTBR_EL2, VTTBR_EL2) share one table: RAM at
 * IPA 1 GiB, IPA 2 GiB mapped to RAM as Device-nGnRE, IPA 3 GiB unmapped.
 * Secure EL1's stage 1 maps:
 *  - VA 2 GiB to IPA 2 GiB in the Secure IPA space (descriptor NS clear),
 *    VA 3 GiB to it in the Non-secure IPA space (NS set): an unaligned
 *    load takes a stage 2 Alignment fault;
 *  - VA 4 GiB and VA 5 GiB through a level 2 table at IPA 3 GiB, reached
 *    with NSTable clear and set: the walk takes a stage 2 Translation
 *    fault on the table read (S1PTW), for a load and for AT S1E1R.
 * Each fault is taken to Secure EL2, whose HPFAR_EL2 must hold the IPA,
 * with NS 0 for the Secure IPA space and 1 for the Non-secure one.
 *
 * Each case enters Secure EL1 from EL3 with ERET and comes back with SMC:
 * SMC #0 from EL1 when its instruction completed, SMC #1 from Secure
 * EL2's vector after a stage 2 fault, SMC #2 from EL1's vector after an
 * exception taken there.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdint.h>
#include <minilib.h>
#include "asm-label.h"

#define GIB                 (1ul << 30)
#define IPA_RAM             (1 * GIB)
#define IPA_DEVICE          (2 * GIB)
#define IPA_UNMAPPED        (3 * GIB)
#define VA_SECURE_IPA       (2 * GIB)
#define VA_NONSECURE_IPA    (3 * GIB)
#define VA_SECURE_TABLE     (4 * GIB)
#define VA_NONSECURE_TABLE  (5 * GIB)

#define EC_SMC64            0x17
#define EC_DABT_LOWER       0x24
#define ESR_S1PTW           (1ul << 7)
#define DFSC_TRANSLATION_L1 0x05
#define DFSC_ALIGNMENT      0x21
#define SMC_STAGE2_FAULT    1

#define SCR_HCE             (1ul << 8)
#define SCR_RW              (1ul << 10)
#define SCR_EEL2            (1ul << 18)
#define HCR_VM              (1ul << 0)
#define HCR_RW              (1ul << 31)
#define HPFAR_NS            (1ul << 63)
#define DESC_AF             (1ul << 10)
#define DESC_NS             (1ul << 5)
#define DESC_XN             (3ul << 53)
#define DESC_BLOCK          1ul
#define DESC_TABLE          3ul
#define DESC_NSTABLE        (1ul << 63)

static uint64_t s2_level1[512] __attribute__((aligned(4096)));
static uint64_t s1_level1[512] __attribute__((aligned(4096)));
static uint8_t buffer[4096] __attribute__((aligned(4096)));

/* What Secure EL2's vector saw, written behind the compiler's back. */
static volatile uint64_t __attribute__((used)) el2_esr, el2_hpfar;

/*
 * enter_sel1 enters Secure EL1 at x0 with x1 as EL1's x1, and returns
 * ESR_EL3 of the SMC that brings it back, as a procedure call.
 */
asm(
    "   .text\n"
    "   .balign 2048\n"
    "el3_vectors:\n"
    "   .rept 8\n"
    "   b       unexpected\n"
    "   .balign 128\n"
    "   .endr\n"
    "   b       el3_from_lower\n"           /* lower EL, AArch64, sync */
    "   .balign 128\n"
    "   .rept 7\n"
    "   b       unexpected\n"
    "   .balign 128\n"
    "   .endr\n"
    "unexpected:\n"
    "   mov     x0, #0x18\n"                 /* SYS_EXIT, status 1 */
    "   adr     x1, exit_block\n"
    "   hlt     #0xf000\n"
    "   .balign 8\n"
    "exit_block:\n"
    "   .quad   0x20026, 1\n"
    "enter_sel1:\n"
    "   stp     x29, x30, [sp, #-96]!\n"
    "   stp     x19, x20, [sp, #16]\n"
    "   stp     x21, x22, [sp, #32]\n"
    "   stp     x23, x24, [sp, #48]\n"
    "   stp     x25, x26, [sp, #64]\n"
    "   stp     x27, x28, [sp, #80]\n"
    "   msr     elr_el3, x0\n"
    "   mov     x0, #0x3c5\n"               /* EL1h, DAIF masked */
    "   msr     spsr_el3, x0\n"
    "   isb\n"
    "   eret\n"
    "el3_from_lower:\n"
    "   mrs     x0, esr_el3\n"
    "   ldp     x19, x20, [sp, #16]\n"
    "   ldp     x21, x22, [sp, #32]\n"
    "   ldp     x23, x24, [sp, #48]\n"
    "   ldp     x25, x26, [sp, #64]\n"
    "   ldp     x27, x28, [sp, #80]\n"
    "   ldp     x29, x30, [sp], #96\n"
    "   ret\n"

    /* Secure EL2: a synchronous exception from EL1 is the stage 2 fault. */
    "   .balign 2048\n"
    "el2_vectors:\n"
    "   .rept 8\n"
    "   b       unexpected\n"
    "   .balign 128\n"
    "   .endr\n"
    "   adrp    x0, el2_esr\n"
    "   mrs     x1, esr_el2\n"
    "   str     x1, [x0, :lo12:el2_esr]\n"
    "   adrp    x0, el2_hpfar\n"
    "   mrs     x1, hpfar_el2\n"
    "   str     x1, [x0, :lo12:el2_hpfar]\n"
    "   smc     #1\n"
    "   .balign 128\n"
    "   .rept 7\n"
    "   b       unexpected\n"
    "   .balign 128\n"
    "   .endr\n"

    /* Secure EL1: every exception goes back to EL3 as SMC #2. */
    "   .balign 2048\n"
    "el1_vectors:\n"
    "   .rept 16\n"
    "   smc     #2\n"
    "   .balign 128\n"
    "   .endr\n"
    "el1_load:\n"
    "   ldr     x0, [x1]\n"
    "   smc     #0\n"
    "el1_at_s1e1r:\n"
    "   at      s1e1r, x1\n"
    "   isb\n"
    "   smc     #0\n"
);

static uint64_t run_sel1(uint64_t entry, uint64_t x1)
{
    register uint64_t x0_ asm("x0") = entry;
    register uint64_t x1_ asm("x1") = x1;

    asm volatile("bl enter_sel1"
                 : "+r"(x0_), "+r"(x1_)
                 : : "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10",
                     "x11", "x12", "x13", "x14", "x15", "x16", "x17", "x18",
                     "x30", "cc", "memory");
    return x0_;
}

static int ok = 1;

/*
 * Run @entry at Secure EL1 on @va and expect a stage 2 fault with @dfsc
 * (on the stage 1 walk if @s1ptw) on @ipa, in the Non-secure IPA space
 * if @nonsecure_ipa.
 */
static void check_case(const char *what, uint64_t entry, uint64_t va,
                       uint64_t ipa, unsigned dfsc, int s1ptw,
                       int nonsecure_ipa)
{
    uint64_t esr3;
    int pass;

    el2_esr = el2_hpfar = 0;
    asm volatile("dsb ishst; tlbi alle1; dsb ish; isb" : : : "memory");
    esr3 = run_sel1(entry, va);

    pass = (esr3 >> 26) == EC_SMC64 && (esr3 & 0xffff) == SMC_STAGE2_FAULT &&
           (el2_esr >> 26) == EC_DABT_LOWER && (el2_esr & 0x3f) == dfsc &&
           !!(el2_esr & ESR_S1PTW) == s1ptw &&
           (el2_hpfar & ~HPFAR_NS) == (ipa >> 12) << 4;
    ml_printf("%s: %s: stage 2 fault %x%s to EL2, HPFAR_EL2.FIPA the IPA "
              "(ESR_EL3 %lx, ESR_EL2 %lx, HPFAR_EL2 %lx)\n",
              pass ? "PASS" : "FAIL", what, dfsc, s1ptw ? " on the walk" : "",
              esr3, el2_esr, el2_hpfar);
    ok &= pass;

    pass = !!(el2_hpfar & HPFAR_NS) == nonsecure_ipa;
    ml_printf("%s: %s: HPFAR_EL2.NS %d (%s IPA space)\n",
              pass ? "PASS" : "FAIL", what, nonsecure_ipa,
              nonsecure_ipa ? "Non-secure" : "Secure");
    ok &= pass;
}

int main(void)
{
    uint64_t current_el, pfr0;
    uint64_t in_gib = (uint64_t)buffer & (GIB - 1);

    asm("mrs %0, CurrentEL" : "=r"(current_el));
    asm("mrs %0, id_aa64pfr0_el1" : "=r"(pfr0));
    if ((current_el >> 2) != 3 || ((pfr0 >> 36) & 0xf) == 0) {
        ml_printf("FAIL: run this test at EL3 on a CPU with FEAT_SEL2\n");
        return 1;
    }

    /* Stage 2, Secure and Non-secure: RAM, IPA 2 GiB as Device. */
    s2_level1[IPA_RAM / GIB] = IPA_RAM | DESC_AF | (3 << 8) | (3 << 6) |
                               (0xf << 2) | DESC_BLOCK;  /* Normal WB */
    s2_level1[IPA_DEVICE / GIB] = IPA_RAM | DESC_AF | (3 << 6) |
                                  (0x1 << 2) | DESC_BLOCK;  /* Device */

    /*
     * Secure EL1's stage 1, MAIR_EL1 attribute 0 Normal (boot.S): RAM
     * flat, the Device IPA in each IPA space, and the unmapped IPA as a
     * level 2 table reached in each IPA space.
     */
    s1_level1[IPA_RAM / GIB] = IPA_RAM | DESC_AF | DESC_BLOCK;
    s1_level1[VA_SECURE_IPA / GIB] = IPA_DEVICE | DESC_XN | DESC_AF |
                                     DESC_BLOCK;
    s1_level1[VA_NONSECURE_IPA / GIB] = IPA_DEVICE | DESC_XN | DESC_AF |
                                        DESC_NS | DESC_BLOCK;
    s1_level1[VA_SECURE_TABLE / GIB] = IPA_UNMAPPED | DESC_TABLE;
    s1_level1[VA_NONSECURE_TABLE / GIB] = IPA_UNMAPPED | DESC_NSTABLE |
                                          DESC_TABLE;

    asm volatile("msr vbar_el3, %0\n\t"
                 "msr vbar_el2, %1\n\t"
                 "msr vbar_el1, %2\n\t"
                 "msr ttbr0_el1, %3\n\t"
                 "msr vtcr_el2, %4\n\t"
                 "msr S3_4_C2_C6_2, %5\n\t"       /* VSTCR_EL2 */
                 "msr vttbr_el2, %6\n\t"
                 "msr S3_4_C2_C6_0, %6\n\t"       /* VSTTBR_EL2 */
                 "msr hcr_el2, %7\n\t"
                 "msr scr_el3, %8\n\t"
                 "isb"
                 : : "r"(LABEL(el3_vectors)), "r"(LABEL(el2_vectors)),
                     "r"(LABEL(el1_vectors)), "r"(s1_level1),
                     /* 40-bit PA, 4K, inner shareable WB, start level 1 */
                     "r"((1ul << 31) | (2ul << 16) | (3 << 12) | (1 << 10) |
                         (1 << 8) | (1 << 6) | 25),
                     "r"((1 << 6) | 25ul),
                     "r"(s2_level1), "r"(HCR_VM | HCR_RW),
                     "r"(SCR_RW | SCR_EEL2 | SCR_HCE)
                 : "memory");

    check_case("unaligned load, Secure IPA", LABEL(el1_load),
               VA_SECURE_IPA + in_gib + 9, IPA_DEVICE + in_gib + 8,
               DFSC_ALIGNMENT, 0, 0);
    check_case("unaligned load, Non-secure IPA", LABEL(el1_load),
               VA_NONSECURE_IPA + in_gib + 9, IPA_DEVICE + in_gib + 8,
               DFSC_ALIGNMENT, 0, 1);
    check_case("load, walk in the Secure IPA space", LABEL(el1_load),
               VA_SECURE_TABLE, IPA_UNMAPPED, DFSC_TRANSLATION_L1, 1, 0);
    check_case("load, walk in the Non-secure IPA space", LABEL(el1_load),
               VA_NONSECURE_TABLE, IPA_UNMAPPED, DFSC_TRANSLATION_L1, 1, 1);
    check_case("AT S1E1R, walk in the Secure IPA space", LABEL(el1_at_s1e1r),
               VA_SECURE_TABLE, IPA_UNMAPPED, DFSC_TRANSLATION_L1, 1, 0);
    check_case("AT S1E1R, walk in the Non-secure IPA space",
               LABEL(el1_at_s1e1r), VA_NONSECURE_TABLE, IPA_UNMAPPED,
               DFSC_TRANSLATION_L1, 1, 1);

    ml_printf("%s\n", ok ? "PASSED" : "FAILED");
    return !ok;
}
