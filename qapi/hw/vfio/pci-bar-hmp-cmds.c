/*
 * HMP info vfio-bars
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/qapi-commands-vfio.h"

static void hmp_print_ranges(Monitor *mon, const char *what,
                             VfioPciBarRangeList *ranges)
{
    if (!ranges) {
        return;
    }
    monitor_printf(mon, "      %s:", what);
    for (; ranges; ranges = ranges->next) {
        monitor_printf(mon, " 0x%" PRIx64 "+0x%" PRIx64,
                       ranges->value->offset, ranges->value->size);
    }
    monitor_printf(mon, "\n");
}

void hmp_info_vfio_bars(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    g_autoptr(VfioPciDeviceInfoList) devs = qmp_query_vfio_pci_bars(&err);

    if (hmp_handle_error(mon, err)) {
        return;
    }
    if (!devs) {
        monitor_printf(mon, "No VFIO PCI devices\n");
        return;
    }
    for (VfioPciDeviceInfoList *d = devs; d; d = d->next) {
        monitor_printf(mon, "%s (%s)\n",
                       d->value->device_id ?: d->value->qom_path,
                       d->value->name);
        for (VfioPciBarInfoList *b = d->value->bars; b; b = b->next) {
            VfioPciBarInfo *bar = b->value;

            if (bar->kind == VFIO_PCI_BAR_KIND_UNIMPLEMENTED) {
                continue;
            }
            monitor_printf(mon, "  BAR %u: %s%s, 0x%" PRIx64 " bytes, "
                           "bar%u-wc=%s -> ", bar->index,
                           VfioPciBarKind_str(bar->kind),
                           bar->prefetchable ? " prefetchable" : "",
                           bar->size, bar->index,
                           OnOffAuto_str(bar->requested));
            monitor_printf(mon, "%s", bar->has_effective
                           ? VfioPciBarMemType_str(bar->effective)
                           : "no memory type");
            if (bar->has_mechanism) {
                monitor_printf(mon, " by %s",
                               VfioPciBarMemTypeMechanism_str(bar->mechanism));
            }
            if (bar->has_host_mem_attr) {
                monitor_printf(mon, ", host memattr %s",
                               VfioPciBarHostMemAttr_str(bar->host_mem_attr));
            }
            if (bar->reason) {
                monitor_printf(mon, " (%s)", bar->reason);
            }
            monitor_printf(mon, "\n");
            hmp_print_ranges(mon, "mmapped", bar->mmapped);
            hmp_print_ranges(mon, "trapped", bar->trapped);
        }
    }
}
