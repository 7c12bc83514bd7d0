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

/**
 * enum AccelHostMemTypeSource - what decides the host memory type that an
 * accelerator gives guest accesses to RAM
 *
 * @ACCEL_HOST_MEM_TYPE_SOURCE_NONE: the accelerator alone: it enforces
 *     no #MemoryRegionHostMemType
 * @ACCEL_HOST_MEM_TYPE_SOURCE_REGION: the region's
 *     #MemoryRegionHostMemType, for the types the accelerator enforces;
 *     a region with none gets none, and the guest's own mapping decides
 * @ACCEL_HOST_MEM_TYPE_SOURCE_HOST_MAPPING: the memory type of the host's
 *     mapping of the region's memory, which the region's owner gives it
 *     there (KVM on arm64, whose stage 2 follows the host's mapping)
 */
typedef enum AccelHostMemTypeSource {
    ACCEL_HOST_MEM_TYPE_SOURCE_NONE,
    ACCEL_HOST_MEM_TYPE_SOURCE_REGION,
    ACCEL_HOST_MEM_TYPE_SOURCE_HOST_MAPPING,
} AccelHostMemTypeSource;

/**
 * struct AccelHostMemTypes - how an accelerator gives guest accesses to
 * RAM a host memory type
 *
 * @source: what decides the type
 * @enforced: with %ACCEL_HOST_MEM_TYPE_SOURCE_REGION, the
 *     #MemoryRegionHostMemType values that the accelerator enforces, as a
 *     mask of BIT(type); 0 otherwise
 */
typedef struct AccelHostMemTypes {
    AccelHostMemTypeSource source;
    unsigned enforced;
} AccelHostMemTypes;

#endif
