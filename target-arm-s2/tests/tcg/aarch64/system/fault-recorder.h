/*
 * EL1 fault recorder for aarch64 system tests
 *
 * Synchronous exceptions from EL1 record ESR_EL1 and FAR_EL1, count
 * themselves and step over the faulting instruction; any other exception
 * goes to boot.S's vectors, which report it and exit.  Call
 * install_fault_recorder() at EL1, or at EL2 before dropping to EL1.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef AARCH64_SYSTEM_FAULT_RECORDER_H
#define AARCH64_SYSTEM_FAULT_RECORDER_H

#include <stdint.h>

/* Written by the exception handler, behind the compiler's back. */
static volatile uint64_t __attribute__((used)) fault_esr, fault_far;
static volatile unsigned __attribute__((used)) fault_count;   /* as above */

/* boot.S's vectors, which report an unexpected exception and exit. */
static uint64_t __attribute__((used)) boot_vectors;

asm(
    "   .text\n"
    "   .balign 2048\n"
    "vectors:\n"
    "   .rept 4\n"
    "   b       unexpected_exception\n"
    "   .balign 128\n"
    "   .endr\n"
    "   b       record_sync\n"
    "   .balign 128\n"
    "   .rept 11\n"
    "   b       unexpected_exception\n"
    "   .balign 128\n"
    "   .endr\n"
    "unexpected_exception:\n"
    "   adrp    x0, boot_vectors\n"
    "   ldr     x0, [x0, :lo12:boot_vectors]\n"
    "   br      x0\n"
    "record_sync:\n"
    "   stp     x0, x1, [sp, #-16]!\n"
    "   adrp    x0, fault_esr\n"
    "   mrs     x1, esr_el1\n"
    "   str     x1, [x0, :lo12:fault_esr]\n"
    "   adrp    x0, fault_far\n"
    "   mrs     x1, far_el1\n"
    "   str     x1, [x0, :lo12:fault_far]\n"
    "   adrp    x0, fault_count\n"
    "   ldr     w1, [x0, :lo12:fault_count]\n"
    "   add     w1, w1, #1\n"
    "   str     w1, [x0, :lo12:fault_count]\n"
    "   mrs     x0, elr_el1\n"
    "   add     x0, x0, #4\n"
    "   msr     elr_el1, x0\n"
    "   ldp     x0, x1, [sp], #16\n"
    "   eret\n"
);

static inline void install_fault_recorder(void)
{
    asm volatile("mrs %0, vbar_el1" : "=r"(boot_vectors));
    asm volatile("adr x0, vectors; msr vbar_el1, x0; isb" : : : "x0");
}

#endif
