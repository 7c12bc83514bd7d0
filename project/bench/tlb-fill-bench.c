/*
 * tlb-fill-bench: bare-metal aarch64 workloads for project/scripts/bench.py, which
 * counts the instructions QEMU executes to run them (valgrind) and so
 * measures what the host memory type costs per TLB fill and per TLB hit.
 *
 * Built against tests/tcg's boot.S and minilib (EL1, MMU on, RAM mapped
 * Normal write-back), with -DITERATIONS=N and one workload:
 *
 *   -DWORKLOAD_FILLS    each iteration invalidates the whole TLB and
 *                       increments a byte in each of PAGES pages: PAGES data TLB
 *                       fills (and the code's) per iteration, the worst
 *                       case for a cost per fill
 *   -DWORKLOAD_COPY     each iteration copies COPY_BYTES of RAM, 8 bytes
 *                       a load and a store: TLB hits, what most guest code
 *                       does
 *   -DWORKLOAD_BAR_FILLS
 *                       as WORKLOAD_FILLS, on the pages of BAR2 of the PCI
 *                       device in slot BAR_SLOT (-M virt,highmem=off): the
 *                       pages that have a host memory type
 *   -DWORKLOAD_DC_ZVA   each iteration zeroes COPY_BYTES of RAM with one
 *                       DC ZVA a block, as the kernel's clear_page() does:
 *                       the DC ZVA helper on TLB hits
 *
 * The workloads are built by project/bench/meson.build.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <minilib.h>

#define PAGE_SIZE   4096
#define PAGES       256
#define COPY_BYTES  (PAGES * PAGE_SIZE / 2)

static uint8_t ram[PAGES * PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

#if defined(WORKLOAD_FILLS)
static uint64_t run_once(int i)
{
    uint64_t sum = 0;

    asm volatile("tlbi vmalle1\n\tdsb nsh\n\tisb" : : : "memory");
    for (int p = 0; p < PAGES; p++) {
        sum += ++*(volatile uint8_t *)&ram[p * PAGE_SIZE + (i & 0xfff)];
    }
    return sum;
}
#elif defined(WORKLOAD_COPY)
static uint64_t run_once(int i)
{
    volatile uint64_t *src = (uint64_t *)ram;
    volatile uint64_t *dst = (uint64_t *)(ram + COPY_BYTES);

    for (int w = 0; w < COPY_BYTES / 8; w++) {
        dst[w] = src[w] + i;
    }
    return dst[i % (COPY_BYTES / 8)];
}
#elif defined(WORKLOAD_BAR_FILLS)
/* -M virt,highmem=off: ECAM and the 32-bit PCI MMIO window below RAM. */
#define VIRT_ECAM       0x3f000000ul
#define VIRT_PCI_MMIO   0x10000000ul
/* project/scripts/bench.py's BAR_SLOT: where it plugs the device. */
#define BAR_SLOT        2

static volatile uint8_t *const bar = (volatile uint8_t *)VIRT_PCI_MMIO;

/*
 * boot.S maps only RAM: map the first GiB (ECAM, the PCI window) with a
 * 1 GiB block, Normal write-back, as the guest's own choice for the BAR,
 * then give BAR2 an address and enable memory decoding.
 */
static void map_bar(void)
{
    volatile uint32_t *cfg = (volatile uint32_t *)(VIRT_ECAM | (BAR_SLOT << 15));
    uint64_t *l1;

    asm volatile("mrs %0, ttbr0_el1" : "=r"(l1));
    l1[0] = 0x401;                      /* AF, block, AttrIndx 0 */
    asm volatile("dsb ish\n\ttlbi vmalle1\n\tdsb ish\n\tisb" : : : "memory");
    cfg[0x18 / 4] = VIRT_PCI_MMIO;      /* BAR2 */
    cfg[0x04 / 4] = 0x2;                /* Command: memory space */
}

static uint64_t run_once(int i)
{
    uint64_t sum = 0;

    asm volatile("tlbi vmalle1\n\tdsb nsh\n\tisb" : : : "memory");
    for (int p = 0; p < PAGES; p++) {
        sum += ++bar[p * PAGE_SIZE + (i & 0xfff)];
    }
    return sum;
}
#elif defined(WORKLOAD_DC_ZVA)
static uint64_t run_once(int i)
{
    uint64_t dczid, block;

    asm volatile("mrs %0, dczid_el0" : "=r"(dczid));
    block = 4ul << (dczid & 0xf);
    ram[i % COPY_BYTES] = 1;
    for (uint64_t off = 0; off < COPY_BYTES; off += block) {
        asm volatile("dc zva, %0" : : "r"(ram + off) : "memory");
    }
    return ram[i % COPY_BYTES];
}
#else
#error "define WORKLOAD_FILLS, WORKLOAD_COPY, WORKLOAD_BAR_FILLS or WORKLOAD_DC_ZVA"
#endif

int main(void)
{
    uint64_t sum = 0;

#ifdef WORKLOAD_BAR_FILLS
    map_bar();
#endif

    for (int i = 0; i < ITERATIONS; i++) {
        sum += run_once(i);
    }
    ml_printf("tlb-fill-bench: %d iterations, checksum %lx\n", ITERATIONS,
              (unsigned long)sum);
    return 0;
}
