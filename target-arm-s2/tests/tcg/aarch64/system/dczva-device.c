/*
 * DC ZVA and DC GZVA on Device memory take an Alignment fault
 *
 * The 2 MiB block of RAM holding a test buffer is aliased with three
 * memory types: Normal write-back, Normal Non-cacheable and Device-nGnRE.
 * DC ZVA must zero a block through either Normal alias.  Through the
 * Device alias it must take an Alignment fault (ESR_EL1.DFSC 0b100001,
 * WnR set, CM clear, FAR_EL1 the register operand) whatever the address
 * alignment, and leave the memory untouched; so must it with the MMU off,
 * when data accesses are Device-nGnRnE.  The Alignment fault ranks above
 * a Permission fault (a read-only Device alias), and leaves a
 * writable-clean descriptor (hardware dirty state, DBM) clean.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdint.h>
#include <minilib.h>
#include "el1-block-alias.h"
#include "fault-recorder.h"

#define ALIAS_NORMAL_WB     (0x7f800000ul)    /* L2 slots 508..510 */
#define ALIAS_NORMAL_NC     (0x7fa00000ul)
#define ALIAS_DEVICE        (0x7fc00000ul)
#define ALIAS_DEVICE_RO     (0x7f000000ul)    /* L2 slots 504..506 */
#define ALIAS_DEVICE_CLEAN  (0x7f200000ul)
#define ALIAS_NORMAL_CLEAN  (0x7f400000ul)

#define DESC_AP_RO          (1ul << 7)        /* AP[2] */
#define DESC_DBM            (1ul << 51)
#define TCR_HA              (1ul << 39)
#define TCR_HD              (1ul << 40)

#define ATTRIDX_NORMAL_WB   0           /* boot.S: MAIR Attr0 = 0xee */
#define ATTRIDX_DEVICE      2
#define ATTRIDX_NORMAL_NC   3

#define EC_DABT_CUR         0x25
#define DFSC_ALIGNMENT      0x21
#define ISS_WNR             (1u << 6)
#define ISS_CM              (1u << 8)

static uint8_t buffer[64 * 1024] __attribute__((aligned(4096)));

/* buffer's 2 MiB block at @va, with @attridx and the descriptor @bits. */
static uint64_t *map_alias_with(uint64_t va, unsigned attridx, uint64_t bits)
{
    return map_block_alias(va, buffer, attridx, bits);
}

static void map_alias(uint64_t va, unsigned attridx)
{
    map_alias_with(va, attridx, 0);
}

/* The address of buffer[offset] through an alias. */
static uint64_t alias(uint64_t va, uint64_t offset)
{
    return va + ((uint64_t)buffer & (BLOCK_2M - 1)) + offset;
}

static unsigned zva_block_size(void)
{
    uint64_t dczid;

    asm("mrs %0, dczid_el0" : "=r"(dczid));
    return 4 << (dczid & 0xf);
}

static void fill(uint8_t *p, unsigned len, uint8_t pattern)
{
    for (unsigned i = 0; i < len; i++) {
        p[i] = pattern;
    }
}

static int all_equal(const uint8_t *p, unsigned len, uint8_t pattern)
{
    for (unsigned i = 0; i < len; i++) {
        if (p[i] != pattern) {
            return 0;
        }
    }
    return 1;
}

static void dc_zva(uint64_t addr)
{
    asm volatile("dc zva, %0" : : "r"(addr) : "memory");
}

/* With the MMU off, data accesses are Device-nGnRnE. */
static void dc_zva_mmu_off(uint64_t addr)
{
    uint64_t sctlr;

    asm volatile("mrs %0, sctlr_el1" : "=r"(sctlr));
    asm volatile("msr sctlr_el1, %0\n\t"
                 "isb\n\t"
                 "dc zva, %1\n\t"
                 "msr sctlr_el1, %2\n\t"
                 "isb"
                 : : "r"(sctlr & ~1ul), "r"(addr), "r"(sctlr) : "memory");
}

static void dc_gzva(uint64_t addr)
{
    /* DC GZVA, spelled as SYS for assemblers without +memtag. */
    asm volatile("sys #3, c7, c4, #4, %0" : : "r"(addr) : "memory");
}

static int errors;

static void expect(int ok, const char *what)
{
    ml_printf("%s: %s\n", ok ? "PASS" : "FAIL", what);
    errors += !ok;
}

/* Zeroing through a Normal alias works and does not fault. */
static void zeroes(const char *name, void (*op)(uint64_t), uint64_t va)
{
    unsigned len = zva_block_size();
    uint64_t offset = 4 * len;

    fill(buffer + offset, len, 0xa5);
    fault_count = 0;
    op(alias(va, offset + 8));
    expect(fault_count == 0, name);
    expect(all_equal(buffer + offset, len, 0), "  ... and zeroed the block");
}

/* Through a Device mapping: an Alignment fault, nothing written. */
static void faults(const char *name, void (*op)(uint64_t), uint64_t va,
                   uint64_t offset)
{
    unsigned len = zva_block_size();
    uint64_t addr = alias(va, offset);
    uint32_t iss;

    offset &= ~(uint64_t)(len - 1);
    fill(buffer + offset, len, 0x5a);
    fault_count = 0;
    fault_esr = fault_far = 0;
    op(addr);
    iss = fault_esr & 0x1ffffff;
    expect(fault_count == 1, name);
    expect((fault_esr >> 26) == EC_DABT_CUR, "  ... as a Data Abort");
    expect((iss & 0x3f) == DFSC_ALIGNMENT, "  ... with DFSC Alignment fault");
    expect((iss & ISS_WNR) && !(iss & ISS_CM), "  ... WnR set, CM clear");
    expect(fault_far == addr, "  ... FAR_EL1 is the operand");
    expect(all_equal(buffer + offset, len, 0x5a), "  ... memory untouched");
}

/*
 * The Alignment fault comes before a Permission fault (R_XCHFJ), and a
 * faulting DC ZVA leaves the descriptor's dirty state alone: hardware
 * (FEAT_HAFDBS) marks a writable-clean page dirty only for a write that
 * happens, as it does through the Normal alias.
 */
static void before_permission_and_dirty_state(void)
{
    unsigned len = zva_block_size();
    uint64_t mmfr1, tcr, *device_clean, *normal_clean;

    faults("DC ZVA on read-only Device: Alignment, not Permission", dc_zva,
           ALIAS_DEVICE_RO, 12 * len);

    asm("mrs %0, id_aa64mmfr1_el1" : "=r"(mmfr1));
    if ((mmfr1 & 0xf) < 2) {
        expect(0, "the CPU has FEAT_HAFDBS with dirty state");
        return;
    }
    device_clean = map_alias_with(ALIAS_DEVICE_CLEAN, ATTRIDX_DEVICE,
                                  DESC_DBM | DESC_AP_RO);
    normal_clean = map_alias_with(ALIAS_NORMAL_CLEAN, ATTRIDX_NORMAL_WB,
                                  DESC_DBM | DESC_AP_RO);
    asm("mrs %0, tcr_el1" : "=r"(tcr));
    asm volatile("msr tcr_el1, %0\n\t"
                 "isb\n\t"
                 "dsb ishst; tlbi vmalle1; dsb ish; isb"
                 : : "r"(tcr | TCR_HA | TCR_HD) : "memory");

    faults("DC ZVA on writable-clean Device (DBM)", dc_zva,
           ALIAS_DEVICE_CLEAN, 13 * len);
    expect(*device_clean & DESC_AP_RO, "  ... the descriptor stays clean");
    zeroes("DC ZVA on writable-clean Normal (DBM)", dc_zva,
           ALIAS_NORMAL_CLEAN);
    expect(!(*normal_clean & DESC_AP_RO),
           "  ... the descriptor becomes dirty");

    asm volatile("msr tcr_el1, %0\n\t"
                 "isb\n\t"
                 "dsb ishst; tlbi vmalle1; dsb ish; isb"
                 : : "r"(tcr) : "memory");
}

int main(void)
{
    uint64_t pfr1;
    unsigned len = zva_block_size();

    install_fault_recorder();

    set_mair_attr(ATTRIDX_DEVICE, 0x04);            /* Device-nGnRE */
    set_mair_attr(ATTRIDX_NORMAL_NC, 0x44);         /* Normal NC */

    map_alias(ALIAS_NORMAL_WB, ATTRIDX_NORMAL_WB);
    map_alias(ALIAS_NORMAL_NC, ATTRIDX_NORMAL_NC);
    map_alias(ALIAS_DEVICE, ATTRIDX_DEVICE);
    map_alias_with(ALIAS_DEVICE_RO, ATTRIDX_DEVICE, DESC_AP_RO);
    asm volatile("dsb ishst; tlbi vmalle1; dsb ish; isb" : : : "memory");

    ml_printf("DC ZVA block size %d bytes\n", len);

    zeroes("DC ZVA on Normal write-back", dc_zva, ALIAS_NORMAL_WB);
    zeroes("DC ZVA on Normal Non-cacheable", dc_zva, ALIAS_NORMAL_NC);
    faults("DC ZVA on Device, aligned", dc_zva, ALIAS_DEVICE, 8 * len);
    faults("DC ZVA on Device, unaligned", dc_zva, ALIAS_DEVICE,
           9 * len + 8);
    faults("DC ZVA with the MMU off", dc_zva_mmu_off,
           (uint64_t)buffer & ~(BLOCK_2M - 1), 11 * len);
    before_permission_and_dirty_state();

    asm("mrs %0, id_aa64pfr1_el1" : "=r"(pfr1));
    if (((pfr1 >> 8) & 0xf) >= 1) {
        zeroes("DC GZVA on Normal write-back", dc_gzva, ALIAS_NORMAL_WB);
        faults("DC GZVA on Device, aligned", dc_gzva, ALIAS_DEVICE,
               10 * len);
    } else {
        ml_printf("SKIP: DC GZVA (no FEAT_MTE)\n");
    }

    ml_printf("%s\n", errors ? "FAILED" : "PASSED");
    return errors ? 1 : 0;
}
