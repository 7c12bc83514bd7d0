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

static void bar_wc_error(unsigned nr, OnOffAuto mode, const char *why,
                         const char *what_to_do, Error **errp)
{
    ERRP_GUARD();

    error_setg(errp, "bar%u-wc=%s: BAR %u %s", nr, OnOffAuto_str(mode), nr,
               why);
    error_append_hint(errp, "%s\n", what_to_do);
}

/* Why a BAR is not mmapped, and what the user can do about it. */
static const struct {
    const char *why;
    const char *what_to_do;
} no_mmap_text[VFIO_BAR_WC_NO_MMAP__MAX] = {
    [VFIO_BAR_WC_NO_MMAP_HOST] = {
        "is not mmapped: the host does not let QEMU mmap it",
        "Set the property to auto.",
    },
    [VFIO_BAR_WC_NO_MMAP_USER] = {
        "is not mmapped: x-no-mmap=on",
        "Drop x-no-mmap=on, or set the property to auto.",
    },
    [VFIO_BAR_WC_NO_MMAP_MSIX] = {
        "is not mmapped: QEMU traps the whole BAR to emulate its MSI-X table",
        "Set the property to auto.",
    },
    [VFIO_BAR_WC_NO_MMAP_EMULATED] = {
        "is not mmapped: QEMU emulates it for the relocated MSI-X table",
        "Set the property to auto, or relocate MSI-X to another BAR.",
    },
    /*
     * Memory types apply to whole pages: unless the guest places the BAR
     * at the start of a page, neither KVM nor TCG map it directly, and
     * QEMU serves its accesses.
     */
    [VFIO_BAR_WC_NO_MMAP_SUB_PAGE] = {
        "is smaller than a host page, so whether the guest maps it "
        "directly depends on where the guest places it",
        "Set the property to auto.",
    },
};

/* What decides the type of a BAR that QEMU gives none, for reports. */
static const char *bar_wc_default_text(AccelHostMemTypeSource source)
{
    switch (source) {
    case ACCEL_HOST_MEM_TYPE_SOURCE_REGION:
        return "imposes none, so the guest's own mapping decides";
    case ACCEL_HOST_MEM_TYPE_SOURCE_HOST_MAPPING:
        return "follows the host's vfio-pci mapping (on arm64, KVM maps a "
               "vfio-pci BAR Normal-NC at stage 2 since Linux 6.9, so the "
               "guest's own mapping decides)";
    default:
        return "applies its own choice";
    }
}

static void bar_wc_no_type(unsigned nr, const char *why, VFIOBarWCResult *res)
{
    res->has_type = false;
    g_free(res->reason);
    res->reason = g_strdup_printf("auto: BAR %u %s", nr, why);
}

bool vfio_pci_bar_wc_resolve(const VFIOBarWCQuery *q, VFIOBarWCResult *res,
                             Error **errp)
{
    bool auto_mode = q->mode == ON_OFF_AUTO_AUTO;
    bool want_nc = q->mode == ON_OFF_AUTO_ON;
    MemoryRegionHostMemType host = want_nc ? MR_HOST_MEM_TYPE_NORMAL_NC
                                           : MR_HOST_MEM_TYPE_DEVICE;

    *res = (VFIOBarWCResult) { 0 };

    if (q->kind == VFIO_PCI_BAR_KIND_IO) {
        if (!auto_mode) {
            bar_wc_error(q->nr, q->mode, "is an I/O BAR", "Only memory BARs "
                         "have a memory type: drop the property or set it to "
                         "auto.", errp);
            return false;
        }
        bar_wc_no_type(q->nr, "is an I/O BAR", res);
        return true;
    }

    if (q->kind == VFIO_PCI_BAR_KIND_UNIMPLEMENTED) {
        g_autofree char *why = q->upper_half
            ? g_strdup_printf("is the upper half of 64-bit BAR %u", q->nr - 1)
            : g_strdup("is not implemented");

        if (!auto_mode) {
            g_autofree char *what_to_do = q->upper_half
                ? g_strdup_printf("Set bar%u-wc instead.", q->nr - 1)
                : g_strdup("Drop the property or set it to auto.");

            bar_wc_error(q->nr, q->mode, why, what_to_do, errp);
            return false;
        }
        bar_wc_no_type(q->nr, why, res);
        return true;
    }

    if (q->no_mmap != VFIO_BAR_WC_MMAPPABLE) {
        if (!auto_mode) {
            bar_wc_error(q->nr, q->mode, no_mmap_text[q->no_mmap].why,
                         no_mmap_text[q->no_mmap].what_to_do, errp);
            return false;
        }
        bar_wc_no_type(q->nr, no_mmap_text[q->no_mmap].why, res);
        return true;
    }

    res->has_type = true;
    if (auto_mode) {
        res->type = VFIO_PCI_BAR_MEM_TYPE_HOST_DEFAULT;
        res->reason = g_strdup_printf("auto: QEMU sets no memory type; the "
                                      "%s accelerator %s", q->accel_name,
                                      bar_wc_default_text(q->accel_source));
        return true;
    }

    if (!(q->accel_types & BIT(host))) {
        g_autofree char *why =
            g_strdup_printf("needs the %s host memory type, which the %s "
                            "accelerator cannot enforce%s%s",
                            want_nc ? "Normal-NC" : "Device-nGnRE",
                            q->accel_name, q->accel_why_not ? ": " : "",
                            q->accel_why_not ?: "");

        bar_wc_error(q->nr, q->mode, why, "Set the property to auto to get "
                     "the host's default, or use an accelerator that "
                     "enforces it.", errp);
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

bool vfio_pci_bar_wc_mmap_failed(unsigned nr, OnOffAuto mode, int err,
                                 VFIOBarWCResult *res, Error **errp)
{
    ERRP_GUARD();

    if (mode != ON_OFF_AUTO_AUTO) {
        error_setg_errno(errp, -err, "bar%u-wc=%s: BAR %u could not be "
                         "mmapped, so no memory type applies", nr,
                         OnOffAuto_str(mode), nr);
        error_append_hint(errp, "Set the property to auto to run with QEMU "
                          "trapping every access to the BAR.\n");
        return false;
    }
    bar_wc_no_type(nr, "could not be mmapped", res);
    return true;
}

bool vfio_pci_bar_wc_check_incoming(unsigned nr, uint8_t source,
                                    OnOffAuto local, Error **errp)
{
    if (source >= ON_OFF_AUTO__MAX) {
        error_setg(errp, "BAR %u: the source sent barN-wc mode %u, which is "
                   "not one", nr, source);
        return false;
    }
    if (source != local) {
        error_setg(errp, "BAR %u: the source has bar%u-wc=%s and this QEMU "
                   "bar%u-wc=%s, so the guest could see another memory type",
                   nr, nr, OnOffAuto_str(source), nr, OnOffAuto_str(local));
        return false;
    }
    return true;
}

static bool vfio_bar_wc_migration_needed(void *opaque)
{
    VFIOBarWCMigration *m = opaque;

    if (m->always) {
        return true;
    }
    for (unsigned nr = 0; nr < PCI_ROM_SLOT; nr++) {
        if (m->local[nr] != ON_OFF_AUTO_AUTO) {
            return true;
        }
    }
    return false;
}

static int vfio_bar_wc_migration_pre_save(void *opaque)
{
    VFIOBarWCMigration *m = opaque;

    for (unsigned nr = 0; nr < PCI_ROM_SLOT; nr++) {
        m->stream[nr] = m->local[nr];
    }
    return 0;
}

/* Each BAR's mode as the source had it, @source, against this QEMU's. */
static bool vfio_bar_wc_check_modes(const VFIOBarWCMigration *m,
                                    const uint8_t *source, Error **errp)
{
    for (unsigned nr = 0; nr < PCI_ROM_SLOT; nr++) {
        if (!vfio_pci_bar_wc_check_incoming(nr, source[nr], m->local[nr],
                                            errp)) {
            error_prepend(errp, "%s: ", m->name);
            return false;
        }
    }
    return true;
}

static bool vfio_bar_wc_migration_post_load(void *opaque, int version_id,
                                            Error **errp)
{
    VFIOBarWCMigration *m = opaque;

    m->received = true;
    return vfio_bar_wc_check_modes(m, m->stream, errp);
}

const VMStateDescription vmstate_vfio_pci_bar_wc = {
    .name = "vfio-pci-bar-wc",
    .version_id = 1,
    .minimum_version_id = 1,
    /* Before any RAM: a mismatch fails the migration in its setup. */
    .early_setup = true,
    .needed = vfio_bar_wc_migration_needed,
    .pre_save = vfio_bar_wc_migration_pre_save,
    .post_load_errp = vfio_bar_wc_migration_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8_ARRAY(stream, VFIOBarWCMigration, PCI_ROM_SLOT),
        VMSTATE_END_OF_LIST()
    }
};

bool vfio_pci_bar_wc_check_received(const VFIOBarWCMigration *m,
                                    Error **errp)
{
    ERRP_GUARD();
    static const uint8_t all_auto[PCI_ROM_SLOT] = {
        [0 ... PCI_ROM_SLOT - 1] = ON_OFF_AUTO_AUTO,
    };

    if (m->received || vfio_bar_wc_check_modes(m, all_auto, errp)) {
        return true;
    }
    error_append_hint(errp, "The source sent no barN-wc: it has none, or "
                      "x-migrate-bar-wc=off and auto on every BAR.\n");
    return false;
}
