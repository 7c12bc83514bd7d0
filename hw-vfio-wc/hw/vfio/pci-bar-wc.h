/*
 * vfio-pci: the host memory type of a BAR's mmapped parts (barN-wc)
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VFIO_PCI_BAR_WC_H
#define HW_VFIO_PCI_BAR_WC_H

#include "qapi/qapi-types-vfio.h"
#include "exec/host-mem-type.h"
#include "hw/pci/pci.h"
#include "migration/vmstate.h"

/* Why the guest may not reach a BAR through QEMU's mmap of it. */
typedef enum VFIOBarWCNoMmap {
    VFIO_BAR_WC_MMAPPABLE,
    VFIO_BAR_WC_NO_MMAP_HOST,       /* the host does not allow it */
    VFIO_BAR_WC_NO_MMAP_USER,       /* x-no-mmap=on */
    VFIO_BAR_WC_NO_MMAP_MSIX,       /* QEMU traps it for the MSI-X table */
    VFIO_BAR_WC_NO_MMAP_EMULATED,   /* QEMU's own (relocated MSI-X) */
    VFIO_BAR_WC_NO_MMAP_SUB_PAGE,   /* smaller than a host page */
    VFIO_BAR_WC_NO_MMAP__MAX,
} VFIOBarWCNoMmap;

/* What the barN-wc policy looks at for one BAR. */
typedef struct VFIOBarWCQuery {
    unsigned nr;
    OnOffAuto mode;             /* barN-wc */
    VfioPciBarKind kind;
    bool upper_half;            /* of the 64-bit BAR nr - 1 */
    bool prefetchable;
    VFIOBarWCNoMmap no_mmap;
    unsigned accel_types;       /* accel_host_mem_types() */
    const char *accel_why_not;  /* and why it leaves out others */
    VfioPciBarMemTypeMechanism accel_mechanism; /* how it enforces them */
    const char *accel_name;
    AccelHostMemTypeSource accel_source;    /* what decides with no type */
} VFIOBarWCQuery;

/* What barN-wc resolved to, for the BAR's mmaps and for reports. */
typedef struct VFIOBarWCResult {
    bool has_type;              /* false: nothing mmapped, no type */
    VfioPciBarMemType type;
    VfioPciBarMemTypeMechanism mechanism;   /* unless host-default */
    char *reason;
    char *warning;              /* NULL, or a risk the user took */
} VFIOBarWCResult;

/**
 * vfio_pci_bar_wc_resolve: resolve barN-wc for one BAR
 *
 * @q: the BAR and its context
 * @res: filled on success; the caller owns its strings
 * @errp: error, for an on or off that cannot be honoured
 *
 * Returns true on success.  auto sets no type and never fails: the
 * host's default applies.  An explicit on or off fails when the BAR has
 * no memory type (I/O, unimplemented), when QEMU will not mmap it, or
 * when the accelerator cannot enforce the type.
 */
bool vfio_pci_bar_wc_resolve(const VFIOBarWCQuery *q, VFIOBarWCResult *res,
                             Error **errp);

/**
 * vfio_pci_bar_wc_mmap_failed: BAR @nr, resolved to @res, failed to mmap
 *
 * @nr: the BAR
 * @mode: its barN-wc
 * @err: the negative errno of the failure
 * @res: the BAR's resolution, updated for auto
 * @errp: error, for an on or off, which needed the mmap
 *
 * Returns true for auto: the BAR is trapped, with no type.
 */
bool vfio_pci_bar_wc_mmap_failed(unsigned nr, OnOffAuto mode, int err,
                                 VFIOBarWCResult *res, Error **errp);

/**
 * vfio_pci_bar_wc_check_incoming: may BAR @nr's state come from a source
 * whose barN-wc was @source, to this QEMU, whose barN-wc is @local?
 *
 * @nr: the BAR
 * @source: the source's barN-wc, as the migration stream carries it
 * @local: this QEMU's
 * @errp: error, when they differ or @source is not a mode
 *
 * The guest's view of the BAR (which accesses fault) follows its memory
 * type, and only an identical request guarantees the same type: auto is
 * whatever each host chooses, and on or off are refused where they
 * cannot be enforced, so nothing else can be checked at this point.
 */
bool vfio_pci_bar_wc_check_incoming(unsigned nr, uint8_t source,
                                    OnOffAuto local, Error **errp);

/* A device's barN-wc in a migration (vmstate_vfio_pci_bar_wc). */
typedef struct VFIOBarWCMigration {
    const char *name;                   /* the device, for errors */
    OnOffAuto local[PCI_ROM_SLOT];      /* this QEMU's barN-wc */
    uint8_t stream[PCI_ROM_SLOT];       /* what the stream carries */
    bool always;                        /* x-migrate-bar-wc */
    bool received;                      /* the section was loaded */
} VFIOBarWCMigration;

/*
 * The early-setup section that carries a device's barN-wc: the source
 * sends it before any RAM (every time with x-migrate-bar-wc, else only
 * when a mode is not auto) and the destination refuses a mode that
 * differs from its own (vfio_pci_bar_wc_check_incoming()).
 */
extern const VMStateDescription vmstate_vfio_pci_bar_wc;

/**
 * vfio_pci_bar_wc_check_received: may a device's state load although
 * @m's section did not come?
 *
 * @m: the device's barN-wc
 * @errp: error, when it did not come and this QEMU asks for on or off
 *
 * A source that sends no section has auto on every BAR: it has no
 * barN-wc, or x-migrate-bar-wc=off and leaves them all at auto.  Its
 * device state, which comes after RAM, is where that can be found out.
 */
bool vfio_pci_bar_wc_check_received(const VFIOBarWCMigration *m,
                                    Error **errp);

typedef struct VFIOPCIDevice VFIOPCIDevice;

/**
 * vfio_pci_bars_wc_resolve: resolve barN-wc for every BAR of @vdev
 *
 * Call once the BARs are prepared, before they are mmapped: a request
 * that cannot be honoured fails here, with nothing to undo.
 */
bool vfio_pci_bars_wc_resolve(VFIOPCIDevice *vdev, Error **errp);

/**
 * vfio_pci_bar_wc_mmapped: check BAR @nr's mmap against its barN-wc
 *
 * @vdev: the device
 * @nr: the BAR
 * @mmap_ret: what vfio_region_mmap() returned for the BAR
 * @errp: error, for an on or off on a BAR that QEMU could not mmap
 *
 * vfio_pci_bars_wc_resolve() has given the BAR's region the type of its
 * mmaps, which vfio_region_mmap() sets as it creates them.
 */
bool vfio_pci_bar_wc_mmapped(VFIOPCIDevice *vdev, unsigned nr, int mmap_ret,
                             Error **errp);

/**
 * vfio_pci_bar_host_memattr: the memory attribute (VFIO_REGION_MEMATTR_*)
 * that the host's vfio-pci gives the mmaps of BAR @nr, as it reports it
 *
 * Returns 0, or a negative errno where the host has none for the BAR (a
 * vfio-user-pci device, a kernel without VFIO_DEVICE_FEATURE_REGION_MEMATTR,
 * a BAR that vfio-pci does not let userspace mmap).
 */
int vfio_pci_bar_host_memattr(VFIOPCIDevice *vdev, unsigned nr,
                              uint32_t *memattr);

/* The host memory type that vfio-pci memory attribute @memattr gives. */
VfioPciBarMemType vfio_pci_bar_memattr_type(uint32_t memattr);

#endif /* HW_VFIO_PCI_BAR_WC_H */
