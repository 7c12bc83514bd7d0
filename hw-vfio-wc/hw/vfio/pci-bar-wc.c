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

bool vfio_pci_bars_wc_resolve(VFIOPCIDevice *vdev, Error **errp)
{
    VFIOBarWCQuery q = {
        .no_mmap = vdev->vbasedev.no_mmap,
        .accel_types = accel_host_mem_types(),
        .accel_name = current_accel_name(),
    };
    g_autofree char *accel_default = NULL;

    if (tcg_enabled()) {
        q.accel_mechanism = VFIO_PCI_BAR_MEM_TYPE_MECHANISM_TCG_MMU;
        q.accel_default = "under TCG the guest's own mapping decides, as "
                          "under an arm64 host's Normal-NC stage 2";
    } else {
        accel_default = g_strdup_printf("the %s accelerator's own choice "
                                        "applies", q.accel_name);
        q.accel_default = accel_default;
    }

    for (q.nr = 0; q.nr < PCI_ROM_SLOT; q.nr++) {
        VFIOBAR *bar = &vdev->bars[q.nr];
        VFIOBarWCResult res;

        q.mode = bar->wc;
        q.kind = vfio_pci_bar_kind(bar);
        q.prefetchable = vfio_pci_bar_is_prefetchable(bar);
        q.mmappable = bar->region.nr_mmaps > 0;

        if (!vfio_pci_bar_wc_resolve(&q, &res, errp)) {
            return false;
        }
        if (res.warning) {
            warn_report("%s: %s", vdev->vbasedev.name, res.warning);
            g_free(res.warning);
        }
        trace_vfio_pci_bar_wc(vdev->vbasedev.name, q.nr,
                              OnOffAuto_str(q.mode),
                              res.has_type ? VfioPciBarMemType_str(res.type)
                                           : "none", res.reason);

        bar->has_mem_type = res.has_type;
        bar->mem_type = res.type;
        bar->mem_type_mechanism = res.mechanism;
        g_free(bar->mem_type_reason);
        bar->mem_type_reason = res.reason;
    }
    return true;
}

bool vfio_pci_bar_wc_mmapped(VFIOPCIDevice *vdev, unsigned nr, int mmap_ret,
                             Error **errp)
{
    ERRP_GUARD();
    VFIOBAR *bar = &vdev->bars[nr];
    VFIORegion *region = &bar->region;
    MemoryRegionHostMemType host = vfio_host_mem_type(bar->mem_type);

    if (mmap_ret) {
        if (bar->wc != ON_OFF_AUTO_AUTO) {
            error_setg_errno(errp, -mmap_ret, "bar%u-wc=%s: BAR %u could "
                             "not be mmapped, so no memory type applies", nr,
                             OnOffAuto_str(bar->wc), nr);
            error_append_hint(errp, "Set the property to auto to run with "
                              "QEMU trapping every access to the BAR.\n");
            return false;
        }
        bar->has_mem_type = false;
        g_free(bar->mem_type_reason);
        bar->mem_type_reason = g_strdup("auto: the BAR could not be mmapped");
        return true;
    }

    for (unsigned i = 0; i < region->nr_mmaps; i++) {
        if (region->mmaps[i].mmap) {
            memory_region_set_host_mem_type(&region->mmaps[i].mem, host);
        }
    }
    return true;
}
