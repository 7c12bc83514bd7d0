/*
 * vfio-pci: how barN-wc resolves to a host memory type
 *
 * Kept free of device state so that tests/unit can check every case.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "system/memory.h"
#include "pci-bar-wc.h"

static void bar_wc_error(const VFIOBarWCQuery *q, const char *why,
                         const char *what_to_do, Error **errp)
{
    ERRP_GUARD();

    error_setg(errp, "bar%u-wc=%s: BAR %u %s", q->nr,
               OnOffAuto_str(q->mode), q->nr, why);
    error_append_hint(errp, "%s\n", what_to_do);
}

bool vfio_pci_bar_wc_resolve(const VFIOBarWCQuery *q, VFIOBarWCResult *res,
                             Error **errp)
{
    bool auto_mode = q->mode == ON_OFF_AUTO_AUTO;
    bool want_nc = q->mode == ON_OFF_AUTO_ON;
    MemoryRegionHostMemType host = want_nc ? MR_HOST_MEM_TYPE_NORMAL_NC
                                           : MR_HOST_MEM_TYPE_DEVICE;

    *res = (VFIOBarWCResult) { 0 };

    if (q->kind == VFIO_PCI_BAR_KIND_IO ||
        q->kind == VFIO_PCI_BAR_KIND_UNIMPLEMENTED) {
        const char *what = q->kind == VFIO_PCI_BAR_KIND_IO
            ? "is an I/O BAR" : "is not implemented (or is the upper half "
                                "of a 64-bit BAR)";

        if (!auto_mode) {
            bar_wc_error(q, what, "Only memory BARs have a memory type: "
                         "drop the property or set it to auto.", errp);
            return false;
        }
        res->reason = g_strdup_printf("auto: BAR %u %s", q->nr, what);
        return true;
    }

    if (!q->mmappable) {
        if (!auto_mode) {
            bar_wc_error(q, "is not mmapped, so QEMU traps and emulates "
                         "every access and no memory type applies",
                         q->no_mmap ? "Drop x-no-mmap=on, or set the property "
                                      "to auto."
                                    : "The host does not let QEMU mmap the "
                                      "BAR: set the property to auto.",
                         errp);
            return false;
        }
        res->reason = g_strdup("auto: no part of the BAR is mmapped");
        return true;
    }

    res->has_type = true;
    if (auto_mode) {
        res->type = VFIO_PCI_BAR_MEM_TYPE_HOST_DEFAULT;
        res->mechanism = VFIO_PCI_BAR_MEM_TYPE_MECHANISM_NONE;
        res->reason = g_strdup_printf("auto: QEMU sets no memory type; %s",
                                      q->accel_default);
        return true;
    }

    if (!(q->accel_types & (1u << host))) {
        g_autofree char *why =
            g_strdup_printf("needs the %s host memory type, which the %s "
                            "accelerator cannot enforce",
                            want_nc ? "Normal-NC" : "Device-nGnRE",
                            q->accel_name);

        bar_wc_error(q, why, "Set the property to auto to get the host's "
                     "default, or use an accelerator that enforces it.",
                     errp);
        return false;
    }

    res->type = want_nc ? VFIO_PCI_BAR_MEM_TYPE_NORMAL_NC
                        : VFIO_PCI_BAR_MEM_TYPE_DEVICE_NGNRE;
    res->mechanism = q->accel_mechanism;
    res->reason = g_strdup_printf("%s: requested", OnOffAuto_str(q->mode));
    if (want_nc && !q->prefetchable) {
        res->warning = g_strdup_printf(
            "bar%u-wc=on: BAR %u is not prefetchable; Normal-NC lets the CPU "
            "read it speculatively and gather writes, which is wrong for "
            "registers with side effects", q->nr, q->nr);
    }
    return true;
}
