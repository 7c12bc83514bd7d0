/*
 * vfio-pci: query-vfio-pci-bars, how each BAR is mapped
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/qapi-commands-vfio.h"
#include "pci.h"

static void vfio_bar_range_append(VfioPciBarRangeList ***tail,
                                  uint64_t offset, uint64_t size)
{
    VfioPciBarRange *range = g_new(VfioPciBarRange, 1);

    range->offset = offset;
    range->size = size;
    QAPI_LIST_APPEND(*tail, range);
}

static gint vfio_mmap_cmp_offset(gconstpointer a, gconstpointer b)
{
    const VFIOMmap *ma = *(VFIOMmap *const *)a;
    const VFIOMmap *mb = *(VFIOMmap *const *)b;

    return ma->offset < mb->offset ? -1 : ma->offset > mb->offset;
}

static VfioPciBarInfo *vfio_pci_bar_info(VFIOPCIDevice *vdev, unsigned nr)
{
    VFIOBAR *bar = &vdev->bars[nr];
    VFIORegion *region = &bar->region;
    VfioPciBarInfo *info = g_new0(VfioPciBarInfo, 1);
    VfioPciBarRangeList **mmapped = &info->mmapped;
    VfioPciBarRangeList **trapped = &info->trapped;
    g_autoptr(GPtrArray) maps = g_ptr_array_new();
    uint64_t offset = 0;

    info->index = nr;
    info->size = bar->size;
    info->kind = vfio_pci_bar_kind(bar);
    info->prefetchable = vfio_pci_bar_is_prefetchable(bar);
    info->requested = bar->wc;
    info->effective = bar->mem_type;
    info->reason = g_strdup(bar->mem_type_reason ?: "");

    for (unsigned i = 0; i < region->nr_mmaps && bar->size; i++) {
        if (region->mmaps[i].mmap) {
            g_ptr_array_add(maps, &region->mmaps[i]);
        }
    }
    g_ptr_array_sort(maps, vfio_mmap_cmp_offset);
    for (unsigned i = 0; i < maps->len; i++) {
        VFIOMmap *map = g_ptr_array_index(maps, i);

        if (map->offset > offset) {
            vfio_bar_range_append(&trapped, offset, map->offset - offset);
        }
        vfio_bar_range_append(&mmapped, map->offset, map->size);
        offset = map->offset + map->size;
    }
    if (bar->size > offset) {
        vfio_bar_range_append(&trapped, offset, bar->size - offset);
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
        info->id = g_strdup(dev->id);
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
