/*
 * The host memory type of a memory region
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef EXEC_HOST_MEM_TYPE_H
#define EXEC_HOST_MEM_TYPE_H

/**
 * enum MemoryRegionHostMemType - the host-level memory type of guest
 * accesses to a RAM-backed region
 *
 * An accelerator that maps guest memory through a translation of its own
 * (e.g. KVM's stage 2 on arm64) also chooses a memory type there, which
 * combines with the guest's own.  This says which type it should choose,
 * for regions where the choice matters, e.g. a device BAR mapped into the
 * guest.
 *
 * @MR_HOST_MEM_TYPE_DEFAULT: the accelerator's own choice
 * @MR_HOST_MEM_TYPE_DEVICE: Device memory (arm64 Device-nGnRE): whatever
 *     the guest maps, no speculation, gathering, reordering or unaligned
 *     access
 * @MR_HOST_MEM_TYPE_NORMAL_NC: Normal non-cacheable (arm64 Normal-NC): the
 *     guest's own memory type applies, e.g. write-combining
 */
typedef enum MemoryRegionHostMemType {
    MR_HOST_MEM_TYPE_DEFAULT,
    MR_HOST_MEM_TYPE_DEVICE,
    MR_HOST_MEM_TYPE_NORMAL_NC,
} MemoryRegionHostMemType;

#endif
