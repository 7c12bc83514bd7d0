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
#include "system/tcg.h"
#include "pci.h"
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

static MemoryRegionHostMemType vfio_host_mem_type(const VFIOBarWCResult *res)
{
    if (!res->has_type) {
        return MR_HOST_MEM_TYPE_DEFAULT;
    }
    switch (res->type) {
    case VFIO_PCI_BAR_MEM_TYPE_NORMAL_NC:
        return MR_HOST_MEM_TYPE_NORMAL_NC;
    case VFIO_PCI_BAR_MEM_TYPE_DEVICE_NGNRE:
        return MR_HOST_MEM_TYPE_DEVICE;
    default:
        return MR_HOST_MEM_TYPE_DEFAULT;
    }
}

static VFIOBarWCNoMmap vfio_bar_no_mmap(VFIOPCIDevice *vdev, unsigned nr)
{
    VFIORegion *region = &vdev->bars[nr].region;

    if (region->nr_mmaps) {
        return region->size < qemu_real_host_page_size()
               ? VFIO_BAR_WC_NO_MMAP_SUB_PAGE : VFIO_BAR_WC_MMAPPABLE;
    }
    if (vdev->vbasedev.no_mmap) {
        return VFIO_BAR_WC_NO_MMAP_USER;
    }
    if (!region->size) {
        return VFIO_BAR_WC_NO_MMAP_EMULATED;
    }
    if ((region->flags & VFIO_REGION_INFO_FLAG_MMAP) && vdev->msix &&
        vdev->msix->table_bar == nr) {
        return VFIO_BAR_WC_NO_MMAP_MSIX;
    }
    return VFIO_BAR_WC_NO_MMAP_HOST;
}

bool vfio_pci_bars_wc_resolve(VFIOPCIDevice *vdev, Error **errp)
{
    VFIOBarWCQuery q = {
        .accel_name = current_accel_name(),
        .accel_default = accel_host_mem_type_default(),
    };
    g_autofree char *accel_default = NULL;

    /* The types it enforces, where this file knows how to report it. */
    if (tcg_enabled()) {
        q.accel_types = accel_host_mem_types();
        q.accel_mechanism = VFIO_PCI_BAR_MEM_TYPE_MECHANISM_TCG;
    }
    if (!q.accel_default) {
        accel_default = g_strdup_printf("the %s accelerator's own choice "
                                        "applies", q.accel_name);
        q.accel_default = accel_default;
    }

    for (q.nr = 0; q.nr < PCI_ROM_SLOT; q.nr++) {
        VFIOBAR *bar = &vdev->bars[q.nr];
        VFIOBarWCResult *res = &bar->wc;

        q.mode = bar->wc_mode;
        q.kind = vfio_pci_bar_kind(bar);
        q.upper_half = q.nr && vdev->bars[q.nr - 1].mem64 &&
                       vdev->bars[q.nr - 1].size;
        q.prefetchable = vfio_pci_bar_is_prefetchable(bar);
        q.no_mmap = vfio_bar_no_mmap(vdev, q.nr);

        g_free(res->reason);
        if (!vfio_pci_bar_wc_resolve(&q, res, errp)) {
            return false;
        }
        if (res->warning) {
            warn_report("%s: %s", vdev->vbasedev.name, res->warning);
            g_clear_pointer(&res->warning, g_free);
        }
        trace_vfio_pci_bar_wc(vdev->vbasedev.name, q.nr,
                              OnOffAuto_str(q.mode),
                              res->has_type ? VfioPciBarMemType_str(res->type)
                                            : "none", res->reason);
    }
    return true;
}

bool vfio_pci_bar_wc_mmapped(VFIOPCIDevice *vdev, unsigned nr, int mmap_ret,
                             Error **errp)
{
    VFIOBAR *bar = &vdev->bars[nr];
    VFIORegion *region = &bar->region;
    MemoryRegionHostMemType host = vfio_host_mem_type(&bar->wc);

    if (mmap_ret) {
        return vfio_pci_bar_wc_mmap_failed(nr, bar->wc_mode, mmap_ret,
                                           &bar->wc, errp);
    }
    for (unsigned i = 0; i < region->nr_mmaps; i++) {
        if (region->mmaps[i].mmap) {
            memory_region_set_host_mem_type(&region->mmaps[i].mem, host);
        }
    }
    return true;
}
