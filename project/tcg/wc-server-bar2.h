/*
 * BAR2 of the project's vfio-user test device, for bare-metal programs
 *
 * At EL2 with the MMU off, start_at_el2_with_bar2() checks the EL and
 * place_bar2() finds the device
 * (tests-qtest/tests/vfio-user-wc-server.c) on bus 0 through virt's ECAM,
 * places its BAR2 at BAR2_PA in the 32-bit MMIO window and enables
 * memory decode.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PROJECT_TCG_WC_SERVER_BAR2_H
#define PROJECT_TCG_WC_SERVER_BAR2_H

#include <stdint.h>
#include <minilib.h>

/* virt's PCIe ECAM (VIRT_HIGH_PCIE_ECAM) and a BAR2 address in its MMIO. */
#define VIRT_ECAM           0x4010000000ul
#define BAR2_PA             0x10100000u
#define WC_SERVER_ID        0x00151b36u     /* device 0x0015, vendor 0x1b36 */
#define PCI_COMMAND         0x04
#define PCI_COMMAND_MEMORY  0x2
#define PCI_BAR2            0x18

static volatile uint32_t *config(unsigned dev, unsigned offset)
{
    return (volatile uint32_t *)(VIRT_ECAM + (dev << 15) + offset);
}

/* Bus 0's vfio-user test device, its BAR2 at BAR2_PA: 0 if absent. */
static int place_bar2(void)
{
    for (unsigned dev = 0; dev < 32; dev++) {
        if (*config(dev, 0) == WC_SERVER_ID) {
            *config(dev, PCI_BAR2) = BAR2_PA;
            *config(dev, PCI_COMMAND) |= PCI_COMMAND_MEMORY;
            return 1;
        }
    }
    return 0;
}

/* Running at EL2, with BAR2 placed: true; else a FAIL line. */
static int start_at_el2_with_bar2(void)
{
    uint64_t current_el;

    asm("mrs %0, CurrentEL" : "=r"(current_el));
    if ((current_el >> 2) != 2) {
        ml_printf("FAIL: run this test at EL2\n");
        return 0;
    }
    if (!place_bar2()) {
        ml_printf("FAIL: no vfio-user-wc-server device (%x) on bus 0\n",
                  WC_SERVER_ID);
        return 0;
    }
    return 1;
}

#endif
