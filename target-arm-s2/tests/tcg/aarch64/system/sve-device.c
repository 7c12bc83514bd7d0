/*
 * SVE accesses to Device memory backed by RAM
 *
 * The 2 MiB block of RAM holding a test buffer is aliased Normal
 * write-back and Device-nGnRE.  Through the Device alias:
 *
 * - predicated SVE element accesses must be aligned to the element size:
 *   an unaligned LD1D, ST1D, gather LD1D and the first element of an
 *   LDFF1D take an Alignment fault at the first active element, and
 *   ST1D writes nothing;
 * - a scatter ST1D whose second element is unaligned takes the fault
 *   before it writes the first;
 * - a non-fault load (LDNF1D) must not access Device memory, and a
 *   first-fault load (LDFF1D) only for its first active element: the
 *   other elements are suppressed and reported in the FFR (R_SBHLD).
 *
 * Through the Normal alias the same accesses work, none suppressed,
 * except with SCTLR_EL1.A set, when an unaligned LD1D faults there too.
 * With the MMU off all data is Device: an unaligned LD1D faults.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdint.h>
#include <minilib.h>
#include "el1-block-alias.h"
#include "fault-recorder.h"

#define ALIAS_NORMAL        (0x7f800000ul)
#define ALIAS_DEVICE        (0x7fc00000ul)
#define ATTRIDX_NORMAL_WB   0           /* boot.S: MAIR Attr0 = 0xee */
#define ATTRIDX_DEVICE      2

#define EC_DABT_CUR         0x25
#define DFSC_ALIGNMENT      0x21
#define ISS_WNR             (1u << 6)

static uint64_t buffer[512] __attribute__((aligned(4096)));

/* The address of byte @offset of buffer through an alias. */
static uint64_t alias(uint64_t va, uint64_t offset)
{
    return va + ((uint64_t)buffer & (BLOCK_2M - 1)) + offset;
}

static uint8_t *bytes(uint64_t offset)
{
    return (uint8_t *)buffer + offset;
}

static void fill(uint64_t offset, unsigned len)
{
    for (unsigned i = 0; i < len; i++) {
        bytes(offset)[i] = 0x10 + i;
    }
}

static int errors;

/* The memory type of the alias a case runs through, for its report. */
static const char *type = "";

static void expect(int ok, const char *what)
{
    ml_printf("%s: %s%s\n", ok ? "PASS" : "FAIL", type, what);
    errors += !ok;
}

/* The element value little-endian memory at @offset holds. */
static uint64_t element_at(uint64_t offset)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | bytes(offset)[i];
    }
    return v;
}

static void expect_no_fault(const char *what)
{
    expect(fault_count == 0, what);
}

static void expect_alignment_fault(const char *what, uint64_t far, int wnr)
{
    uint32_t iss = fault_esr & 0x1ffffff;

    expect(fault_count == 1 && (fault_esr >> 26) == EC_DABT_CUR &&
           (iss & 0x3f) == DFSC_ALIGNMENT && !!(iss & ISS_WNR) == wnr &&
           fault_far == far, what);
    if (fault_count) {
        ml_printf("  (%d fault(s), ESR_EL1 %lx, FAR_EL1 %lx, expected %lx)\n",
                  fault_count, fault_esr, fault_far, far);
    }
}

static void reset_faults(void)
{
    fault_count = 0;
    fault_esr = fault_far = 0;
}

/* Two doubleword elements: LD1D {z0.d}, p0/z, [addr]; returns them. */
static void ld1d(uint64_t addr, uint64_t out[2])
{
    asm volatile(".arch_extension sve\n\t"
                 "mov z0.d, #0\n\t"
                 "ptrue p0.d, vl2\n\t"
                 "ld1d {z0.d}, p0/z, [%0]\n\t"
                 "str q0, [%1]"
                 : : "r"(addr), "r"(out) : "v0", "p0", "memory");
}

static void st1d(uint64_t addr)
{
    asm volatile(".arch_extension sve\n\t"
                 "index z0.d, #1, #1\n\t"
                 "ptrue p0.d, vl2\n\t"
                 "st1d {z0.d}, p0, [%0]"
                 : : "r"(addr) : "v0", "p0", "memory");
}

/* LD1D {z0.d}, p0/z, [z1.d] with z1 = { addr, addr + 8 }. */
static void gather_ld1d(uint64_t addr)
{
    asm volatile(".arch_extension sve\n\t"
                 "index z1.d, %0, #8\n\t"
                 "ptrue p0.d, vl2\n\t"
                 "ld1d {z0.d}, p0/z, [z1.d]"
                 : : "r"(addr) : "v0", "v1", "p0", "memory");
}

/* ST1D {z0.d}, p0, [z1.d] with z0 = { 1, 2 }, z1 = { addr0, addr1 }. */
static void scatter_st1d(uint64_t addr0, uint64_t addr1)
{
    asm volatile(".arch_extension sve\n\t"
                 "index z0.d, #1, #1\n\t"
                 "index z1.d, %0, %1\n\t"
                 "ptrue p0.d, vl2\n\t"
                 "st1d {z0.d}, p0, [z1.d]"
                 : : "r"(addr0), "r"(addr1 - addr0)
                 : "v0", "v1", "p0", "memory");
}

#define SCTLR_M             (1ul << 0)
#define SCTLR_A             (1ul << 1)

/*
 * LD1D of two elements at @addr with the SCTLR_EL1 bits @set set and
 * @clear cleared; the fault recorder steps over a faulting LD1D to the
 * instruction that puts SCTLR_EL1 back.
 */
static void ld1d_sctlr(uint64_t addr, uint64_t set, uint64_t clear)
{
    asm volatile(".arch_extension sve\n\t"
                 "ptrue p0.d, vl2\n\t"
                 "mrs x9, sctlr_el1\n\t"
                 "orr x10, x9, %1\n\t"
                 "bic x10, x10, %2\n\t"
                 "msr sctlr_el1, x10\n\t"
                 "isb\n\t"
                 "ld1d {z0.d}, p0/z, [%0]\n\t"
                 "msr sctlr_el1, x9\n\t"
                 "isb"
                 : : "r"(addr), "r"(set), "r"(clear)
                 : "x9", "x10", "v0", "p0", "memory");
}

/*
 * LDNF1D or LDFF1D of two elements from FFR all true; returns the
 * elements and the FFR's bits for them.
 */
#define LOAD_AND_READ_FFR(insn)                                             \
static unsigned insn(uint64_t addr, uint64_t out[2])                       \
{                                                                           \
    uint8_t ffr[32];                                                        \
                                                                            \
    asm volatile(".arch_extension sve\n\t"                                  \
                 "mov z0.d, #0\n\t"                                         \
                 "setffr\n\t"                                               \
                 "ptrue p0.d, vl2\n\t"                                      \
                 #insn " {z0.d}, p0/z, [%0]\n\t"                            \
                 "rdffr p1.b\n\t"                                           \
                 "str q0, [%1]\n\t"                                         \
                 "str p1, [%2]"                                             \
                 : : "r"(addr), "r"(out), "r"(ffr)                          \
                 : "v0", "p0", "p1", "memory");                             \
    return (ffr[0] & 1) | (ffr[1] & 1) << 1;                                \
}

LOAD_AND_READ_FFR(ldnf1d)
LOAD_AND_READ_FFR(ldff1d)

static void sve_cases(uint64_t va, int device)
{
    uint64_t out[2], unaligned = alias(va, 64 + 4);
    unsigned ffr;

    type = device ? "Device: " : "Normal: ";

    /* Aligned elements load as on any memory. */
    fill(64, 32);
    reset_faults();
    ld1d(alias(va, 64), out);
    expect_no_fault("LD1D, aligned");
    expect(out[0] == element_at(64) && out[1] == element_at(72),
           "  ... loads both elements");

    reset_faults();
    ld1d(unaligned, out);
    if (device) {
        expect_alignment_fault("LD1D, unaligned", unaligned, 0);
    } else {
        expect_no_fault("LD1D, unaligned");
        expect(out[0] == element_at(68) && out[1] == element_at(76),
               "  ... loads both elements");
    }

    fill(128, 32);
    reset_faults();
    st1d(alias(va, 128 + 4));
    if (device) {
        expect_alignment_fault("ST1D, unaligned", alias(va, 128 + 4), 1);
        expect(bytes(128)[4] == 0x14 && bytes(128)[19] == 0x23,
               "  ... writes nothing");
    } else {
        expect_no_fault("ST1D, unaligned");
        expect(element_at(132) == 1 && element_at(140) == 2,
               "  ... stores both elements");
    }

    fill(192, 32);
    reset_faults();
    scatter_st1d(alias(va, 192), alias(va, 208 + 4));
    if (device) {
        expect_alignment_fault("scatter ST1D, second element unaligned",
                               alias(va, 208 + 4), 1);
        expect(bytes(192)[0] == 0x10 && bytes(208)[4] == 0x24,
               "  ... writes neither element");
    } else {
        expect_no_fault("scatter ST1D, second element unaligned");
        expect(element_at(192) == 1 && element_at(212) == 2,
               "  ... stores both elements");
    }

    reset_faults();
    gather_ld1d(unaligned);
    if (device) {
        expect_alignment_fault("gather LD1D, unaligned", unaligned, 0);
    } else {
        expect_no_fault("gather LD1D, unaligned");
    }

    reset_faults();
    ffr = ldnf1d(alias(va, 64), out);
    if (device) {
        expect(fault_count == 0 && ffr == 0,
               "LDNF1D, aligned: suppressed, FFR false for both elements");
    } else {
        expect(fault_count == 0 && ffr == 3 && out[1] == element_at(72),
               "LDNF1D, aligned: loads both elements, FFR true");
    }

    reset_faults();
    ffr = ldff1d(alias(va, 64), out);
    if (device) {
        expect(fault_count == 0 && ffr == 1 && out[0] == element_at(64),
               "LDFF1D, aligned: loads the first element only, FFR true "
               "for it alone");
    } else {
        expect(fault_count == 0 && ffr == 3 && out[0] == element_at(64) &&
               out[1] == element_at(72),
               "LDFF1D, aligned: loads both elements, FFR true");
    }

    reset_faults();
    ldff1d(unaligned, out);
    if (device) {
        expect_alignment_fault("LDFF1D, unaligned: the first element faults",
                               unaligned, 0);
    } else {
        expect_no_fault("LDFF1D, unaligned");
    }
    type = "";
}

/* Alignment checks that the translation regime asks for, not the page. */
static void sve_regime_cases(void)
{
    reset_faults();
    ld1d_sctlr(alias(ALIAS_NORMAL, 64 + 4), SCTLR_A, 0);
    expect_alignment_fault("Normal, SCTLR_EL1.A set: LD1D, unaligned",
                           alias(ALIAS_NORMAL, 64 + 4), 0);

    /* boot.S maps RAM flat: buffer's VA is its PA. */
    reset_faults();
    ld1d_sctlr((uint64_t)buffer + 64 + 4, 0, SCTLR_M);
    expect_alignment_fault("MMU off: LD1D, unaligned",
                           (uint64_t)buffer + 64 + 4, 0);
}

int main(void)
{
    uint64_t pfr0;

    install_fault_recorder();

    set_mair_attr(ATTRIDX_DEVICE, 0x04);            /* Device-nGnRE */
    map_block_alias(ALIAS_NORMAL, buffer, ATTRIDX_NORMAL_WB, 0);
    map_block_alias(ALIAS_DEVICE, buffer, ATTRIDX_DEVICE, 0);
    asm volatile("dsb ishst; tlbi vmalle1; dsb ish; isb" : : : "memory");

    asm("mrs %0, id_aa64pfr0_el1" : "=r"(pfr0));
    if (((pfr0 >> 32) & 0xf) == 0) {
        expect(0, "the CPU has SVE");
    } else {
        sve_cases(ALIAS_NORMAL, 0);
        sve_cases(ALIAS_DEVICE, 1);
        sve_regime_cases();
    }

    ml_printf("%s\n", errors ? "FAILED" : "PASSED");
    return errors ? 1 : 0;
}
