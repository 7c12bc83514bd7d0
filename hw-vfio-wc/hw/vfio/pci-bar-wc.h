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

/* What the barN-wc policy looks at for one BAR. */
typedef struct VFIOBarWCQuery {
    unsigned nr;
    OnOffAuto mode;             /* barN-wc */
    VfioPciBarKind kind;
    bool prefetchable;
    bool mmapped;               /* some part of the BAR is mmapped */
    unsigned accel_types;       /* accel_host_mem_types() */
    const char *accel_name;
} VFIOBarWCQuery;

typedef struct VFIOBarWCResult {
    VfioPciBarMemType type;
    char *reason;               /* for query-vfio-pci-bars */
    char *warning;              /* NULL, or a risk the user took */
} VFIOBarWCResult;

/**
 * vfio_pci_bar_wc_resolve: resolve barN-wc for one BAR
 *
 * @q: the BAR and its context
 * @res: filled on success; the caller owns its strings
 * @errp: error, for an on or off that cannot be honoured
 *
 * Returns true on success.  An explicit on or off fails when the BAR has
 * no memory type (I/O, unimplemented), no mmapped part, or when the
 * accelerator cannot enforce the type; auto never fails, it degrades and
 * says why.
 */
bool vfio_pci_bar_wc_resolve(const VFIOBarWCQuery *q, VFIOBarWCResult *res,
                             Error **errp);

typedef struct VFIOPCIDevice VFIOPCIDevice;

/**
 * vfio_pci_bars_wc_setup: resolve barN-wc for every BAR of @vdev and give
 * the BARs' mmapped regions their host memory type
 *
 * Call once the BARs are registered and mmapped, before they are mapped
 * into the guest.
 */
bool vfio_pci_bars_wc_setup(VFIOPCIDevice *vdev, Error **errp);

#endif /* HW_VFIO_PCI_BAR_WC_H */
