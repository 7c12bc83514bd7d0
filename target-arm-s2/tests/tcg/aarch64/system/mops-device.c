/*
 * FEAT_MOPS copies and sets to Device memory backed by RAM
 *
 * A regression guard: QEMU already behaves like this; nothing in the
 * series that adds it changes the MOPS helpers.  The architecture leaves
 * the access sizes of CPY* and SET* open (only SETG* has an alignment
 * rule), so the byte-by-byte slow path that Device memory gets
 * (TLB_CHECK_ALIGNED keeps tlb_vaddr_to_host() from returning a host
 * pointer) is a permitted way of accessing it: through a Device-nGnRE
 * alias of RAM, unaligned copies and sets complete without a fault and
 * write nothing outside their range.
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

static uint8_t buffer[4096] __attribute__((aligned(4096)));
static int errors;

/* The address of byte @offset of buffer through the Device alias. */
static uint64_t device(uint64_t offset)
{
    return ALIAS_DEVICE + ((uint64_t)buffer & (BLOCK_2M - 1)) + offset;
}

static void fill(uint64_t offset, unsigned len)
{
    for (unsigned i = 0; i < len; i++) {
        buffer[offset + i] = 0x10 + i;
    }
}

static void expect(int ok, const char *what)
{
    ml_printf("%s: Device: %s\n", ok ? "PASS" : "FAIL", what);
    errors += !ok;
}

/* SETP/SETM/SETE of @len bytes of @value at @addr. */
static void mops_set(uint64_t addr, uint64_t len, uint64_t value)
{
    asm volatile(".arch_extension mops\n\t"
                 "setp [%0]!, %1!, %2\n\t"
                 "setm [%0]!, %1!, %2\n\t"
                 "sete [%0]!, %1!, %2"
                 : "+r"(addr), "+r"(len) : "r"(value) : "cc", "memory");
}

/* CPYP/CPYM/CPYE of @len bytes from @src to @dst. */
static void mops_cpy(uint64_t dst, uint64_t src, uint64_t len)
{
    asm volatile(".arch_extension mops\n\t"
                 "cpyp [%0]!, [%1]!, %2!\n\t"
                 "cpym [%0]!, [%1]!, %2!\n\t"
                 "cpye [%0]!, [%1]!, %2!"
                 : "+r"(dst), "+r"(src), "+r"(len) : : "cc", "memory");
}

static void mops_cases(void)
{
    uint64_t isar2;
    int set_ok = 1, cpy_ok = 1;

    asm("mrs %0, id_aa64isar2_el1" : "=r"(isar2));
    if (((isar2 >> 16) & 0xf) == 0) {
        expect(0, "the CPU has FEAT_MOPS");
        return;
    }

    fill(1024, 128);
    fault_count = 0;
    mops_set(device(1024 + 3), 101, 0x5a);
    for (unsigned i = 0; i < 128; i++) {
        int in = i >= 3 && i < 3 + 101;
        set_ok &= buffer[1024 + i] == (in ? 0x5a : 0x10 + i);
    }
    expect(fault_count == 0, "SETP/SETM/SETE of 101 bytes, unaligned");
    expect(set_ok, "  ... sets them, and nothing around them");

    fill(2048, 128);
    fill(3072, 128);
    for (unsigned i = 0; i < 128; i++) {
        buffer[2048 + i] ^= 0xff;
    }
    fault_count = 0;
    mops_cpy(device(3072 + 5), device(2048 + 1), 77);
    for (unsigned i = 0; i < 128; i++) {
        int in = i >= 5 && i < 5 + 77;
        cpy_ok &= buffer[3072 + i] ==
                  (in ? (uint8_t)((0x10 + i - 4) ^ 0xff) : 0x10 + i);
    }
    expect(fault_count == 0, "CPYP/CPYM/CPYE of 77 bytes, unaligned");
    expect(cpy_ok, "  ... copies them, and nothing around them");
}

int main(void)
{
    install_fault_recorder();

    set_mair_attr(ATTRIDX_DEVICE, 0x04);            /* Device-nGnRE */
    map_block_alias(ALIAS_DEVICE, buffer, ATTRIDX_DEVICE, 0);
    asm volatile("dsb ishst; tlbi vmalle1; dsb ish; isb" : : : "memory");

    mops_cases();

    ml_printf("%s\n", errors ? "FAILED" : "PASSED");
    return errors ? 1 : 0;
}
