/*
 * Aliases of a 2 MiB block of RAM in boot.S's EL1 stage 1 tables
 *
 * boot.S flat-maps RAM's first 1 GiB (at 1 GiB) through one level 1 and
 * one level 2 table; a test maps the block holding its buffer again at
 * another address of that GiB, with the memory attributes it needs.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef AARCH64_SYSTEM_EL1_BLOCK_ALIAS_H
#define AARCH64_SYSTEM_EL1_BLOCK_ALIAS_H

#include <stdint.h>

#define BLOCK_2M            (2ul << 20)

/* Set attribute @idx of MAIR_EL1 to @attr. */
static inline void set_mair_attr(unsigned idx, uint8_t attr)
{
    uint64_t mair;

    asm("mrs %0, mair_el1" : "=r"(mair));
    mair = (mair & ~(0xfful << (8 * idx))) | ((uint64_t)attr << (8 * idx));
    asm volatile("msr mair_el1, %0" : : "r"(mair));
}

/* boot.S's level 1 table (TTBR0_EL1). */
static inline uint64_t *boot_level1_table(void)
{
    uint64_t ttbr0;

    asm("mrs %0, ttbr0_el1" : "=r"(ttbr0));
    return (uint64_t *)(ttbr0 & 0xfffffffff000ul);
}

/*
 * Map the 2 MiB block holding @p at @va, execute-never, with MAIR
 * attribute @attridx and the descriptor @bits; return the descriptor.
 */
static inline uint64_t *map_block_alias(uint64_t va, const void *p,
                                        unsigned attridx, uint64_t bits)
{
    uint64_t *l2 = (uint64_t *)(boot_level1_table()[1] & 0xfffffffff000ul);
    uint64_t *desc = &l2[(va >> 21) & 511];
    uint64_t af = 1 << 10, xn = 3ul << 53, block = 1;

    *desc = ((uint64_t)p & ~(BLOCK_2M - 1)) |
            xn | af | (attridx << 2) | bits | block;
    return desc;
}

#endif
