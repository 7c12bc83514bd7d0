/*
 * query-vfio-pci-bars where VFIO PCI is not built in: no devices
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/qapi-commands-vfio.h"

VfioPciDeviceInfoList *qmp_query_vfio_pci_bars(Error **errp)
{
    return NULL;
}
