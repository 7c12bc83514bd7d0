/*
 * vfio-pci: give the mmapped parts of each BAR the host memory type that
 * barN-wc resolves to
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/accel.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "pci.h"
#include "pci-bar-wc.h"
#include "trace.h"

VfioPciBarKind vfio_pci_bar_kind(const VFIOBAR *bar)
{
    if (!bar->size) {
        return VFIO_PCI_BAR_KIND_UNIMPLEMENTED;
    }
    if (bar->ioport) {
        return VFIO_PCI_BAR_KIND_IO;
    }
    return bar->mem64 ? VFIO_PCI_BAR_KIND_MEM64 : VFIO_PCI_BAR_KIND_MEM32;
}

bool vfio_pci_bar_is_prefetchable(const VFIOBAR *bar)
{
    return bar->size && !bar->ioport &&
           (bar->type & PCI_BASE_ADDRESS_MEM_PREFETCH);
}

static bool vfio_region_is_mmapped(const VFIORegion *region)
{
    for (unsigned i = 0; i < region->nr_mmaps; i++) {
        if (region->mmaps[i].mmap) {
            return true;
        }
    }
    return false;
}

static MemoryRegionHostMemType vfio_host_mem_type(VfioPciBarMemType type)
{
    switch (type) {
    case VFIO_PCI_BAR_MEM_TYPE_NORMAL_NC:
        return MR_HOST_MEM_TYPE_NORMAL_NC;
    case VFIO_PCI_BAR_MEM_TYPE_DEVICE_NGNRE:
        return MR_HOST_MEM_TYPE_DEVICE;
    default:
        return MR_HOST_MEM_TYPE_DEFAULT;
    }
}

bool vfio_pci_bars_wc_setup(VFIOPCIDevice *vdev, Error **errp)
{
    VFIOBarWCQuery q = {
        .accel_types = accel_host_mem_types(),
        .accel_name = current_accel_name(),
    };

    for (q.nr = 0; q.nr < PCI_ROM_SLOT; q.nr++) {
        VFIOBAR *bar = &vdev->bars[q.nr];
        VFIORegion *region = &bar->region;
        MemoryRegionHostMemType host;
        VFIOBarWCResult res;

        q.mode = bar->wc;
        q.kind = vfio_pci_bar_kind(bar);
        q.prefetchable = vfio_pci_bar_is_prefetchable(bar);
        q.mmapped = vfio_region_is_mmapped(region);

        if (!vfio_pci_bar_wc_resolve(&q, &res, errp)) {
            return false;
        }
        if (res.warning) {
            warn_report("%s: %s", vdev->vbasedev.name, res.warning);
            g_free(res.warning);
        }
        trace_vfio_pci_bar_wc(vdev->vbasedev.name, q.nr,
                              OnOffAuto_str(q.mode),
                              VfioPciBarMemType_str(res.type), res.reason);

        bar->mem_type = res.type;
        g_free(bar->mem_type_reason);
        bar->mem_type_reason = res.reason;

        host = vfio_host_mem_type(res.type);
        for (unsigned i = 0; i < region->nr_mmaps; i++) {
            if (region->mmaps[i].mmap) {
                memory_region_set_host_mem_type(&region->mmaps[i].mem, host);
            }
        }
    }
    return true;
}
