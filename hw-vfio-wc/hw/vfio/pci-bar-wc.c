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

/*
 * A vfio device's mmap maps the device's own memory, with the memory
 * attribute that the host's vfio-pci gives it; a vfio-user server passes
 * QEMU file descriptors of its memory instead.
 */
static bool vfio_bars_map_device_memory(VFIOPCIDevice *vdev)
{
    return !vdev->vbasedev.use_region_fds;
}

static int vfio_bar_memattr_feature(VFIOPCIDevice *vdev, uint32_t flags,
                                    unsigned nr, uint32_t *memattr)
{
    uint64_t buf[DIV_ROUND_UP(sizeof(struct vfio_device_feature) +
                 sizeof(struct vfio_device_feature_region_memattr),
                 sizeof(uint64_t))] = {};
    struct vfio_device_feature *feature = (struct vfio_device_feature *)buf;
    struct vfio_device_feature_region_memattr *attr =
        (struct vfio_device_feature_region_memattr *)feature->data;
    int ret;

    if (!vdev->vbasedev.io_ops->device_feature) {
        return -ENOTTY;
    }
    feature->argsz = sizeof(buf);
    feature->flags = flags | VFIO_DEVICE_FEATURE_REGION_MEMATTR;
    attr->region_index = VFIO_PCI_BAR0_REGION_INDEX + nr;
    attr->memattr = *memattr;
    ret = vdev->vbasedev.io_ops->device_feature(&vdev->vbasedev, feature);
    *memattr = attr->memattr;
    return ret;
}

static bool vfio_bars_have_host_memattr(VFIOPCIDevice *vdev)
{
    uint32_t unused = 0;

    return vfio_bars_map_device_memory(vdev) &&
           !vfio_bar_memattr_feature(vdev, VFIO_DEVICE_FEATURE_PROBE |
                                     VFIO_DEVICE_FEATURE_GET |
                                     VFIO_DEVICE_FEATURE_SET, 0, &unused);
}

int vfio_pci_bar_host_memattr(VFIOPCIDevice *vdev, unsigned nr,
                              uint32_t *memattr)
{
    *memattr = 0;
    if (!vfio_bars_map_device_memory(vdev)) {
        return -ENOTTY;
    }
    return vfio_bar_memattr_feature(vdev, VFIO_DEVICE_FEATURE_GET, nr,
                                    memattr);
}

/* The memory attribute that gives the mmaps of a BAR resolved to @res. */
static bool vfio_bar_wc_memattr(const VFIOBarWCResult *res, uint32_t *memattr)
{
    if (!res->has_type) {
        return false;
    }
    switch (res->type) {
    case VFIO_PCI_BAR_MEM_TYPE_NORMAL_NC:
        *memattr = VFIO_REGION_MEMATTR_WC;
        return true;
    case VFIO_PCI_BAR_MEM_TYPE_DEVICE_NGNRE:
        *memattr = VFIO_REGION_MEMATTR_DEVICE;
        return true;
    default:
        return false;
    }
}

VfioPciBarMemType vfio_pci_bar_memattr_type(uint32_t memattr)
{
    switch (memattr) {
    case VFIO_REGION_MEMATTR_WC:
        return VFIO_PCI_BAR_MEM_TYPE_NORMAL_NC;
    case VFIO_REGION_MEMATTR_DEVICE:
        return VFIO_PCI_BAR_MEM_TYPE_DEVICE_NGNRE;
    default:
        return VFIO_PCI_BAR_MEM_TYPE_HOST_DEFAULT;
    }
}

/*
 * KVM/arm64 maps a BAR's mmaps into the guest with the memory type of the
 * host's mapping: stage 2 Normal-NC where vfio-pci allows any uncached
 * type, Device-nGnRE otherwise.  The type is vfio-pci's to give, through
 * the memory attribute of its mmaps.
 */
static void vfio_bars_host_mapping_query(VFIOPCIDevice *vdev,
                                         bool host_memattr, VFIOBarWCQuery *q)
{
    if (!vfio_bars_map_device_memory(vdev)) {
        /* Ordinary memory, whose type QEMU cannot choose. */
        q->accel_source = ACCEL_HOST_MEM_TYPE_SOURCE_NONE;
        q->accel_why_not = "a vfio-user-pci BAR is memory that the device "
                           "server shares with QEMU, which KVM maps as "
                           "ordinary memory";
        return;
    }
    if (!host_memattr) {
        q->accel_why_not = "KVM takes it from the host's vfio-pci mapping, "
                           "and the host kernel's vfio-pci does not offer "
                           "VFIO_DEVICE_FEATURE_REGION_MEMATTR";
        return;
    }
    q->accel_types = BIT(MR_HOST_MEM_TYPE_NORMAL_NC) |
                     BIT(MR_HOST_MEM_TYPE_DEVICE);
    q->accel_mechanism = VFIO_PCI_BAR_MEM_TYPE_MECHANISM_VFIO;
}

/* What to do when the host's vfio-pci refuses a memory attribute. */
static const char *vfio_memattr_refused_hint(int err)
{
    switch (err) {
    case -EOPNOTSUPP:
        return "The host's architecture cannot give it to a vfio-pci "
               "mapping; set the property to auto.";
    case -EBUSY:
        return "Another user of the device has mapped the BAR with another "
               "memory attribute; close it, or set the property to auto.";
    default:
        return "A variant driver that maps the BAR itself (such as "
               "nvgrace-gpu) has its own memory attributes; set the property "
               "to auto.";
    }
}

/*
 * Give BAR @nr's future mmaps the memory attribute of its resolution @res,
 * where the host's vfio-pci has one.  Under KVM that is how the type is
 * enforced, and a refusal fails realize; under TCG, which enforces the
 * type itself, it makes QEMU's own mapping agree where the host can.
 */
static bool vfio_bar_set_host_memattr(VFIOPCIDevice *vdev, unsigned nr,
                                      const VFIOBarWCResult *res,
                                      Error **errp)
{
    ERRP_GUARD();
    uint32_t memattr;
    int ret;

    if (!vfio_bar_wc_memattr(res, &memattr)) {
        return true;
    }
    ret = vfio_bar_memattr_feature(vdev, VFIO_DEVICE_FEATURE_SET, nr,
                                   &memattr);
    trace_vfio_pci_bar_memattr(vdev->vbasedev.name, nr, memattr, ret);
    if (ret && res->mechanism == VFIO_PCI_BAR_MEM_TYPE_MECHANISM_VFIO) {
        error_setg_errno(errp, -ret, "bar%u-wc=%s: the host's vfio-pci "
                         "refused %s for BAR %u", nr,
                         OnOffAuto_str(vdev->bars[nr].wc_mode),
                         memattr == VFIO_REGION_MEMATTR_WC
                         ? "VFIO_REGION_MEMATTR_WC"
                         : "VFIO_REGION_MEMATTR_DEVICE", nr);
        error_append_hint(errp, "%s\n", vfio_memattr_refused_hint(ret));
        return false;
    }
    return true;
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
    AccelHostMemTypes accel = accel_host_mem_types();
    VFIOBarWCQuery q = {
        .accel_name = current_accel_name(),
        .accel_source = accel.source,
    };
    bool host_memattr = vfio_bars_have_host_memattr(vdev);

    switch (accel.source) {
    case ACCEL_HOST_MEM_TYPE_SOURCE_REGION:
        q.accel_types = accel.enforced;
        q.accel_mechanism = VFIO_PCI_BAR_MEM_TYPE_MECHANISM_ACCEL;
        break;
    case ACCEL_HOST_MEM_TYPE_SOURCE_HOST_MAPPING:
        vfio_bars_host_mapping_query(vdev, host_memattr, &q);
        break;
    default:
        break;
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
        if (host_memattr &&
            !vfio_bar_set_host_memattr(vdev, q.nr, res, errp)) {
            return false;
        }
        /* vfio_region_mmap() gives each mmap the type as it creates it. */
        bar->region.mmap_host_mem_type = vfio_host_mem_type(res);
    }
    return true;
}

bool vfio_pci_bar_wc_mmapped(VFIOPCIDevice *vdev, unsigned nr, int mmap_ret,
                             Error **errp)
{
    VFIOBAR *bar = &vdev->bars[nr];

    if (mmap_ret) {
        bar->region.mmap_host_mem_type = MR_HOST_MEM_TYPE_DEFAULT;
        return vfio_pci_bar_wc_mmap_failed(nr, bar->wc_mode, mmap_ret,
                                           &bar->wc, errp);
    }
    return true;
}
