/*
 * vfio-pci: query-vfio-pci-bars, how each BAR is mapped
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/qapi-commands-vfio.h"
#include "qemu/main-loop.h"
#include "system/address-spaces.h"
#include "system/memory.h"
#include "pci.h"

typedef struct VFIOBarRanges {
    const MemoryRegion *bar;    /* the BAR's region, bar->mr */
    VfioPciBarRangeList *mmapped, **mmapped_tail;
    VfioPciBarRangeList *trapped, **trapped_tail;
    VfioPciBarRange *last;      /* the range the next one may extend */
    bool last_mmapped;
} VFIOBarRanges;

/*
 * The offset in the BAR of @offset in @mr, if @mr is the BAR's region or
 * lies within it.  The containers are the BQL's to change (the flat
 * view's RCU covers only the view); vfio lays no alias inside a BAR.
 */
static bool vfio_bar_offset(const MemoryRegion *bar, const MemoryRegion *mr,
                            hwaddr offset, uint64_t *bar_offset)
{
    for (; mr && mr != bar; mr = mr->container) {
        offset += mr->addr;
    }
    *bar_offset = offset;
    return mr == bar;
}

static bool vfio_bar_range_add(Int128 start, Int128 len,
                               const MemoryRegion *mr,
                               hwaddr offset_in_region, void *opaque)
{
    VFIOBarRanges *r = opaque;
    /* Only the BAR's mmaps are RAM devices: the rest is QEMU's to emulate */
    bool mmapped = mr->ram_device;
    VfioPciBarRange *range;
    uint64_t offset;

    if (!vfio_bar_offset(r->bar, mr, offset_in_region, &offset)) {
        return false;
    }
    if (r->last && r->last_mmapped == mmapped &&
        r->last->offset + r->last->size == offset) {
        r->last->size += int128_get64(len);
        return false;
    }
    range = g_new(VfioPciBarRange, 1);
    range->offset = offset;
    range->size = int128_get64(len);
    if (mmapped) {
        QAPI_LIST_APPEND(r->mmapped_tail, range);
    } else {
        QAPI_LIST_APPEND(r->trapped_tail, range);
    }
    r->last = range;
    r->last_mmapped = mmapped;
    return false;
}

/*
 * What guest accesses to the BAR reach, read from the flat views the
 * vCPUs use: nothing where the guest does not decode the BAR, and
 * everything QEMU lays over the mmaps (the MSI-X table and PBA, quirks)
 * and the mmaps that INTx emulation has disabled for now as trapped.
 */
static void vfio_bar_ranges(VFIOBAR *bar, VfioPciBarInfo *info)
{
    VFIOBarRanges r = {
        .bar = bar->mr,
        .mmapped_tail = &r.mmapped,
        .trapped_tail = &r.trapped,
    };

    assert(bql_locked());
    if (bar->mr) {
        WITH_RCU_READ_LOCK_GUARD() {
            flatview_for_each_range(
                address_space_to_flatview(&address_space_memory),
                vfio_bar_range_add, &r);
            /*
             * Some machines (virt) map PCI I/O space into memory, others
             * have an I/O address space: look there only if need be, so
             * that a machine that has both does not count a BAR twice.
             */
            if (bar->ioport && !r.last) {
                flatview_for_each_range(
                    address_space_to_flatview(&address_space_io),
                    vfio_bar_range_add, &r);
            }
        }
    }
    info->mmapped = r.mmapped;
    info->trapped = r.trapped;
}

/* What the host's vfio-pci says the BAR's mmaps have, not what QEMU asked. */
static void vfio_bar_host_memattr(VFIOPCIDevice *vdev, unsigned nr,
                                  VfioPciBarInfo *info)
{
    static const VfioPciBarHostMemAttr memattrs[] = {
        [VFIO_REGION_MEMATTR_NC] = VFIO_PCI_BAR_HOST_MEM_ATTR_NC,
        [VFIO_REGION_MEMATTR_WC] = VFIO_PCI_BAR_HOST_MEM_ATTR_WC,
        [VFIO_REGION_MEMATTR_DEVICE] = VFIO_PCI_BAR_HOST_MEM_ATTR_DEVICE,
    };
    uint32_t memattr;

    if (vfio_pci_bar_host_memattr(vdev, nr, &memattr) ||
        memattr >= ARRAY_SIZE(memattrs)) {
        return;
    }
    info->has_host_mem_attr = true;
    info->host_mem_attr = memattrs[memattr];
    if (info->has_mechanism &&
        info->mechanism == VFIO_PCI_BAR_MEM_TYPE_MECHANISM_VFIO) {
        info->effective = vfio_pci_bar_memattr_type(memattr);
        info->has_mechanism =
            info->effective != VFIO_PCI_BAR_MEM_TYPE_HOST_DEFAULT;
    }
}

static VfioPciBarInfo *vfio_pci_bar_info(VFIOPCIDevice *vdev, unsigned nr)
{
    VFIOBAR *bar = &vdev->bars[nr];
    VfioPciBarInfo *info = g_new0(VfioPciBarInfo, 1);

    info->index = nr;
    info->size = bar->size;
    info->kind = vfio_pci_bar_kind(bar);
    info->prefetchable = vfio_pci_bar_is_prefetchable(bar);
    info->requested = bar->wc_mode;
    /* on and off either give what they ask for or fail realize. */
    if (bar->wc_mode == ON_OFF_AUTO_AUTO) {
        info->reason = g_strdup(bar->wc.reason);
    }
    vfio_bar_ranges(bar, info);
    if (bar->wc.has_type) {
        info->has_effective = true;
        info->effective = bar->wc.type;
        info->has_mechanism =
            bar->wc.type != VFIO_PCI_BAR_MEM_TYPE_HOST_DEFAULT;
        info->mechanism = bar->wc.mechanism;
    }
    if (info->kind != VFIO_PCI_BAR_KIND_UNIMPLEMENTED &&
        info->kind != VFIO_PCI_BAR_KIND_IO) {
        vfio_bar_host_memattr(vdev, nr, info);
    }
    return info;
}

VfioPciDeviceInfoList *qmp_query_vfio_pci_bars(Error **errp)
{
    VfioPciDeviceInfoList *list = NULL;
    VFIODevice *vbasedev;

    /* vfio_device_list holds the newest first: prepend to keep plug order. */
    QLIST_FOREACH(vbasedev, &vfio_device_list, global_next) {
        VFIOPCIDevice *vdev;
        VfioPciDeviceInfo *info;
        VfioPciBarInfoList **tail;
        DeviceState *dev;

        if (vbasedev->type != VFIO_DEVICE_TYPE_PCI) {
            continue;
        }
        vdev = container_of(vbasedev, VFIOPCIDevice, vbasedev);
        dev = DEVICE(vdev);

        info = g_new0(VfioPciDeviceInfo, 1);
        info->device_id = g_strdup(dev->id);
        info->qom_path = object_get_canonical_path(OBJECT(dev));
        info->name = g_strdup(vbasedev->name);
        tail = &info->bars;
        for (unsigned nr = 0; nr < PCI_ROM_SLOT; nr++) {
            QAPI_LIST_APPEND(tail, vfio_pci_bar_info(vdev, nr));
        }
        QAPI_LIST_PREPEND(list, info);
    }
    return list;
}
