/*
 * The address of an assembler label, for aarch64 system tests
 *
 * A test's code for other exception levels lives in top-level asm, and
 * the C side takes the address of its labels.  Taken through the GOT, a
 * local label's address resolves to its section's start; adrp/add takes
 * it PC-relative, as the code at other exception levels needs.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef AARCH64_SYSTEM_ASM_LABEL_H
#define AARCH64_SYSTEM_ASM_LABEL_H

#include <stdint.h>

#define LABEL(name) ({                                          \
    uint64_t addr_;                                             \
    asm("adrp %0, " #name "\n\t"                               \
        "add %0, %0, :lo12:" #name : "=r"(addr_));              \
    addr_;                                                      \
})

#endif
