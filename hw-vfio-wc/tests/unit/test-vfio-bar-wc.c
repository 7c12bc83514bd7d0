/*
 * How vfio-pci's barN-wc resolves, for every combination of its inputs
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/module.h"
#include "system/memory.h"
#include "hw/vfio/pci-bar-wc.h"
#include "io/channel-buffer.h"
#include "migration/qemu-file-types.h"
#include "../migration/qemu-file.h"

#define ANY (-1)

/*
 * The decision table: the first row that matches a case decides it.
 * @enforced: whether the accelerator enforces the type an explicit mode
 * asks for (Normal-NC for on, Device for off).
 */
typedef struct Rule {
    int mode;
    int memory;             /* a memory BAR (not I/O, not unimplemented) */
    int prefetchable;
    int mmappable;
    int enforced;
    bool error;
    bool has_type;
    VfioPciBarMemType type;
    bool warning;
    unsigned used;
} Rule;

static Rule rules[] = {
    /* mode               mem pf  mmap enf  error  type */
    { ON_OFF_AUTO_AUTO,   0, ANY, ANY, ANY, false },
    { ANY,                0, ANY, ANY, ANY, true },
    { ON_OFF_AUTO_AUTO,   1, ANY, 0,   ANY, false },
    { ANY,                1, ANY, 0,   ANY, true },
    /* auto sets nothing, whatever the BAR and the accelerator */
    { ON_OFF_AUTO_AUTO,   1, ANY, 1,   ANY, false, true,
      VFIO_PCI_BAR_MEM_TYPE_HOST_DEFAULT },
    { ANY,                1, ANY, 1,   0,   true },
    { ON_OFF_AUTO_ON,     1, 1,   1,   1,   false, true,
      VFIO_PCI_BAR_MEM_TYPE_NORMAL_NC },
    { ON_OFF_AUTO_ON,     1, 0,   1,   1,   false, true,
      VFIO_PCI_BAR_MEM_TYPE_NORMAL_NC, .warning = true },
    { ON_OFF_AUTO_OFF,    1, ANY, 1,   1,   false, true,
      VFIO_PCI_BAR_MEM_TYPE_DEVICE_NGNRE },
};

static bool field_matches(int rule, int value)
{
    return rule == ANY || rule == value;
}

static Rule *find_rule(OnOffAuto mode, bool memory, bool prefetchable,
                       bool mmappable, bool enforced)
{
    for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
        Rule *r = &rules[i];

        if (field_matches(r->mode, mode) && field_matches(r->memory, memory) &&
            field_matches(r->prefetchable, prefetchable) &&
            field_matches(r->mmappable, mmappable) &&
            field_matches(r->enforced, enforced)) {
            return r;
        }
    }
    g_assert_not_reached();
}

static void check_result(const VFIOBarWCQuery *q, const Rule *r,
                         const VFIOBarWCResult *res)
{
    g_assert_cmpint(res->has_type, ==, r->has_type);
    g_assert_nonnull(res->reason);
    g_assert_true(g_str_has_prefix(res->reason, OnOffAuto_str(q->mode)));
    g_assert_cmpint(!!res->warning, ==, r->warning);
    if (r->has_type) {
        g_assert_cmpint(res->type, ==, r->type);
    }
    if (r->has_type && r->type != VFIO_PCI_BAR_MEM_TYPE_HOST_DEFAULT) {
        g_assert_cmpint(res->mechanism, ==, q->accel_mechanism);
    }
}

static void test_every_combination(void)
{
    static const VfioPciBarKind kinds[] = {
        VFIO_PCI_BAR_KIND_UNIMPLEMENTED, VFIO_PCI_BAR_KIND_IO,
        VFIO_PCI_BAR_KIND_MEM32, VFIO_PCI_BAR_KIND_MEM64,
    };
    static const unsigned accel_types[] = {
        0,
        BIT(MR_HOST_MEM_TYPE_DEVICE),
        BIT(MR_HOST_MEM_TYPE_NORMAL_NC),
        BIT(MR_HOST_MEM_TYPE_DEVICE) | BIT(MR_HOST_MEM_TYPE_NORMAL_NC),
    };
    unsigned cases = 0;

    for (OnOffAuto mode = 0; mode < ON_OFF_AUTO__MAX; mode++) {
        for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
            for (int pf = 0; pf < 2; pf++) {
                for (VFIOBarWCNoMmap nm = 0; nm < VFIO_BAR_WC_NO_MMAP__MAX;
                     nm++) {
                    for (size_t a = 0; a < ARRAY_SIZE(accel_types); a++) {
                        VFIOBarWCQuery q = {
                            .nr = 2, .mode = mode, .kind = kinds[k],
                            .prefetchable = pf, .no_mmap = nm,
                            .accel_types = accel_types[a],
                            .accel_mechanism =
                                VFIO_PCI_BAR_MEM_TYPE_MECHANISM_ACCEL,
                            .accel_name = "test",
                            .accel_source = ACCEL_HOST_MEM_TYPE_SOURCE_REGION,
                        };
                        bool memory = kinds[k] == VFIO_PCI_BAR_KIND_MEM32 ||
                                      kinds[k] == VFIO_PCI_BAR_KIND_MEM64;
                        MemoryRegionHostMemType want =
                            mode == ON_OFF_AUTO_ON ? MR_HOST_MEM_TYPE_NORMAL_NC
                                                   : MR_HOST_MEM_TYPE_DEVICE;
                        Rule *r = find_rule(mode, memory, pf,
                                            nm == VFIO_BAR_WC_MMAPPABLE,
                                            accel_types[a] & BIT(want));
                        VFIOBarWCResult res;
                        Error *err = NULL;
                        bool ok;

                        ok = vfio_pci_bar_wc_resolve(&q, &res, &err);
                        r->used++;
                        cases++;
                        if (r->error) {
                            g_assert_false(ok);
                            g_assert_nonnull(err);
                            g_assert_true(g_str_has_prefix(
                                error_get_pretty(err), "bar2-wc="));
                            error_free(err);
                            continue;
                        }
                        g_assert_true(ok);
                        g_assert_null(err);
                        check_result(&q, r, &res);
                        g_free(res.reason);
                        g_free(res.warning);
                    }
                }
            }
        }
    }
    g_assert_cmpuint(cases, ==,
                     3 * 4 * 2 * VFIO_BAR_WC_NO_MMAP__MAX * 4);
    for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
        g_assert_cmpuint(rules[i].used, >, 0);
    }
}

/* The words a user reads. */
static void test_messages(void)
{
    VFIOBarWCQuery io = {
        .nr = 4, .mode = ON_OFF_AUTO_ON, .kind = VFIO_PCI_BAR_KIND_IO,
        .accel_name = "kvm",
    };
    VFIOBarWCQuery nc = {
        .nr = 2, .mode = ON_OFF_AUTO_ON, .kind = VFIO_PCI_BAR_KIND_MEM64,
        .prefetchable = true, .accel_name = "kvm",
    };
    VFIOBarWCQuery upper = {
        .nr = 3, .mode = ON_OFF_AUTO_OFF,
        .kind = VFIO_PCI_BAR_KIND_UNIMPLEMENTED, .upper_half = true,
    };
    VFIOBarWCResult res;
    Error *err = NULL;

    g_assert_false(vfio_pci_bar_wc_resolve(&io, &res, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "bar4-wc=on: BAR 4 is an I/O BAR");
    error_free(err);
    err = NULL;

    g_assert_false(vfio_pci_bar_wc_resolve(&nc, &res, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "bar2-wc=on: BAR 2 needs the Normal-NC host memory type, "
                    "which the kvm accelerator cannot enforce");
    error_free(err);
    err = NULL;

    nc.accel_why_not = "the host kernel cannot";
    g_assert_false(vfio_pci_bar_wc_resolve(&nc, &res, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "bar2-wc=on: BAR 2 needs the Normal-NC host memory type, "
                    "which the kvm accelerator cannot enforce: the host "
                    "kernel cannot");
    error_free(err);
    err = NULL;
    nc.accel_why_not = NULL;

    g_assert_false(vfio_pci_bar_wc_resolve(&upper, &res, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "bar3-wc=off: BAR 3 is the upper half of 64-bit BAR 2");
    error_free(err);

    nc.mode = ON_OFF_AUTO_AUTO;
    g_assert_true(vfio_pci_bar_wc_resolve(&nc, &res, &error_abort));
    g_assert_cmpstr(res.reason, ==, "auto: QEMU sets no memory type; the kvm "
                    "accelerator applies its own choice");
    g_free(res.reason);

    nc.accel_name = "tcg";
    nc.accel_source = ACCEL_HOST_MEM_TYPE_SOURCE_REGION;
    g_assert_true(vfio_pci_bar_wc_resolve(&nc, &res, &error_abort));
    g_assert_cmpstr(res.reason, ==, "auto: QEMU sets no memory type; the tcg "
                    "accelerator imposes none, so the guest's own mapping "
                    "decides");
    g_free(res.reason);

    nc.accel_name = "kvm";
    nc.accel_source = ACCEL_HOST_MEM_TYPE_SOURCE_HOST_MAPPING;
    g_assert_true(vfio_pci_bar_wc_resolve(&nc, &res, &error_abort));
    g_assert_cmpstr(res.reason, ==, "auto: QEMU sets no memory type; the kvm "
                    "accelerator follows the host's vfio-pci mapping (on "
                    "arm64, KVM maps a vfio-pci BAR Normal-NC at stage 2 "
                    "since Linux 6.9, so the guest's own mapping decides)");
    g_free(res.reason);
}

/*
 * An mmap that fails after the BAR resolved: on and off needed it and
 * fail; auto keeps the BAR trapped, with no type.
 */
static void test_mmap_failed(void)
{
    VFIOBarWCQuery q = {
        .nr = 2, .kind = VFIO_PCI_BAR_KIND_MEM32,
        .accel_types = BIT(MR_HOST_MEM_TYPE_DEVICE) |
                       BIT(MR_HOST_MEM_TYPE_NORMAL_NC),
        .accel_name = "tcg", .accel_source = ACCEL_HOST_MEM_TYPE_SOURCE_REGION,
    };

    for (OnOffAuto mode = 0; mode < ON_OFF_AUTO__MAX; mode++) {
        VFIOBarWCResult res;
        Error *err = NULL;

        q.mode = mode;
        g_assert_true(vfio_pci_bar_wc_resolve(&q, &res, &error_abort));
        g_assert_true(res.has_type);
        if (mode == ON_OFF_AUTO_AUTO) {
            g_assert_true(vfio_pci_bar_wc_mmap_failed(2, mode, -EACCES, &res,
                                                      &error_abort));
            g_assert_false(res.has_type);
            g_assert_cmpstr(res.reason, ==,
                            "auto: BAR 2 could not be mmapped");
        } else {
            g_autofree char *want = g_strdup_printf(
                "bar2-wc=%s: BAR 2 could not be mmapped, so no memory type "
                "applies: %s", OnOffAuto_str(mode), strerror(EACCES));

            g_assert_false(vfio_pci_bar_wc_mmap_failed(2, mode, -EACCES, &res,
                                                       &err));
            g_assert_cmpstr(error_get_pretty(err), ==, want);
            error_free(err);
        }
        g_free(res.reason);
        g_free(res.warning);
    }
}

/*
 * The hint for a BAR that is not mmapped says why and what to do: it
 * names x-no-mmap only where the user set it (vfio-user-pci has no such
 * property).
 */
static void test_not_mmapped_hint(gconstpointer data)
{
    VFIOBarWCNoMmap no_mmap = GPOINTER_TO_INT(data);
    static const char *const why[VFIO_BAR_WC_NO_MMAP__MAX] = {
        [VFIO_BAR_WC_NO_MMAP_HOST] =
            "*bar0-wc=off: BAR 0 is not mmapped: the host does not let QEMU "
            "mmap it*Set the property to auto.*",
        [VFIO_BAR_WC_NO_MMAP_USER] =
            "*bar0-wc=off: BAR 0 is not mmapped: x-no-mmap=on*Drop "
            "x-no-mmap=on, or set the property to auto.*",
        [VFIO_BAR_WC_NO_MMAP_MSIX] =
            "*bar0-wc=off: BAR 0 is not mmapped: QEMU traps the whole BAR to "
            "emulate its MSI-X table*Set the property to auto.*",
        [VFIO_BAR_WC_NO_MMAP_EMULATED] =
            "*bar0-wc=off: BAR 0 is not mmapped: QEMU emulates it for the "
            "relocated MSI-X table*relocate MSI-X to another BAR.*",
        [VFIO_BAR_WC_NO_MMAP_SUB_PAGE] =
            "*bar0-wc=off: BAR 0 is smaller than a host page, so whether the "
            "guest maps it directly depends on where the guest places "
            "it*Set the property to auto.*",
    };

    if (g_test_subprocess()) {
        VFIOBarWCQuery q = {
            .nr = 0, .mode = ON_OFF_AUTO_OFF, .kind = VFIO_PCI_BAR_KIND_MEM32,
            .no_mmap = no_mmap, .accel_name = "tcg",
        };
        VFIOBarWCResult res;
        Error *err = NULL;

        g_assert_false(vfio_pci_bar_wc_resolve(&q, &res, &err));
        error_report_err(err);
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr(why[no_mmap]);
    if (no_mmap != VFIO_BAR_WC_NO_MMAP_USER) {
        g_test_trap_assert_stderr_unmatched("*x-no-mmap*");
    }
}

/*
 * A migration carries each BAR's barN-wc: only the same mode may load,
 * and a value that is no mode is refused too.
 */
static void test_check_incoming(void)
{
    for (unsigned source = 0; source <= ON_OFF_AUTO__MAX; source++) {
        for (OnOffAuto local = 0; local < ON_OFF_AUTO__MAX; local++) {
            Error *err = NULL;
            bool ok = vfio_pci_bar_wc_check_incoming(4, source, local, &err);

            g_assert_cmpint(ok, ==, source == local);
            g_assert_cmpint(!err, ==, ok);
            if (source == ON_OFF_AUTO__MAX) {
                g_assert_cmpstr(error_get_pretty(err), ==,
                                "BAR 4: the source sent barN-wc mode 3, "
                                "which is not one");
            } else if (!ok) {
                g_autofree char *want = g_strdup_printf(
                    "BAR 4: the source has bar4-wc=%s and this QEMU "
                    "bar4-wc=%s, so the guest could see another memory type",
                    OnOffAuto_str(source), OnOffAuto_str(local));

                g_assert_cmpstr(error_get_pretty(err), ==, want);
            }
            error_free(err);
        }
    }
}

/* Save @source's section into a buffer and load it into @dest. */
static bool migrate_bar_wc(VFIOBarWCMigration *source,
                           VFIOBarWCMigration *dest, Error **errp)
{
    g_autoptr(QIOChannelBuffer) out = qio_channel_buffer_new(64);
    g_autoptr(QIOChannelBuffer) in = NULL;
    QEMUFile *f = qemu_file_new_output(QIO_CHANNEL(out));
    int ret;

    g_assert_cmpint(vmstate_save_state(f, &vmstate_vfio_pci_bar_wc, source,
                                       NULL, &error_abort), ==, 0);
    qemu_fflush(f);
    g_assert_cmpint(out->usage, ==, PCI_ROM_SLOT);
    in = qio_channel_buffer_new(out->usage);
    memcpy(in->data, out->data, out->usage);
    in->usage = out->usage;
    qemu_fclose(f);

    f = qemu_file_new_input(QIO_CHANNEL(in));
    ret = vmstate_load_state(f, &vmstate_vfio_pci_bar_wc, dest, 1, errp);
    qemu_fclose(f);
    return ret == 0;
}

/*
 * The early-setup section, saved and loaded for real: every pair of
 * source and destination modes on a BAR, the others auto; only equal
 * modes load.
 */
static void test_migration_every_pair(void)
{
    for (OnOffAuto s = 0; s < ON_OFF_AUTO__MAX; s++) {
        for (OnOffAuto d = 0; d < ON_OFF_AUTO__MAX; d++) {
            VFIOBarWCMigration source = { .name = "src", .always = true };
            VFIOBarWCMigration dest = { .name = "0000:01:00.0" };
            Error *err = NULL;

            for (unsigned nr = 0; nr < PCI_ROM_SLOT; nr++) {
                source.local[nr] = dest.local[nr] = ON_OFF_AUTO_AUTO;
            }
            source.local[3] = s;
            dest.local[3] = d;
            g_assert_cmpint(migrate_bar_wc(&source, &dest, &err), ==, s == d);
            if (s != d) {
                g_autofree char *want = g_strdup_printf(
                    "post load hook failed for: vfio-pci-bar-wc, version_id: "
                    "1, minimum_version: 1: 0000:01:00.0: BAR 3: the source "
                    "has bar3-wc=%s and this QEMU bar3-wc=%s, so the guest "
                    "could see another memory type", OnOffAuto_str(s),
                    OnOffAuto_str(d));

                g_assert_cmpstr(error_get_pretty(err), ==, want);
                error_free(err);
            }
        }
    }
}

/*
 * The section is sent whenever x-migrate-bar-wc is on, so that a
 * destination that asks for a mode learns at setup that the source had
 * auto; with it off (the default: a destination may not know the
 * section), only when a mode is not auto.
 */
static void test_migration_needed(void)
{
    VFIOBarWCMigration m = { .always = true };

    for (unsigned nr = 0; nr < PCI_ROM_SLOT; nr++) {
        m.local[nr] = ON_OFF_AUTO_AUTO;
    }
    g_assert_true(vmstate_section_needed(&vmstate_vfio_pci_bar_wc, &m));
    m.always = false;
    g_assert_false(vmstate_section_needed(&vmstate_vfio_pci_bar_wc, &m));
    m.local[5] = ON_OFF_AUTO_OFF;
    g_assert_true(vmstate_section_needed(&vmstate_vfio_pci_bar_wc, &m));
    g_assert_true(vmstate_vfio_pci_bar_wc.early_setup);
}

/*
 * No section came (a source without barN-wc, or x-migrate-bar-wc=off
 * and auto everywhere): the device state, which comes later, loads only
 * where this QEMU has auto on every BAR too.
 */
static void test_migration_not_received(void)
{
    VFIOBarWCMigration m = { .name = "0000:01:00.0" };
    Error *err = NULL;

    for (unsigned nr = 0; nr < PCI_ROM_SLOT; nr++) {
        m.local[nr] = ON_OFF_AUTO_AUTO;
    }
    g_assert_true(vfio_pci_bar_wc_check_received(&m, &error_abort));
    m.local[2] = ON_OFF_AUTO_ON;
    g_assert_false(vfio_pci_bar_wc_check_received(&m, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "0000:01:00.0: BAR 2: the source has bar2-wc=auto and "
                    "this QEMU bar2-wc=on, so the guest could see another "
                    "memory type");
    error_free(err);
    m.received = true;
    g_assert_true(vfio_pci_bar_wc_check_received(&m, &error_abort));
}

int main(int argc, char **argv)
{
    static const char *const no_mmap_names[VFIO_BAR_WC_NO_MMAP__MAX] = {
        [VFIO_BAR_WC_NO_MMAP_HOST] = "host",
        [VFIO_BAR_WC_NO_MMAP_USER] = "x-no-mmap",
        [VFIO_BAR_WC_NO_MMAP_MSIX] = "msix",
        [VFIO_BAR_WC_NO_MMAP_EMULATED] = "emulated",
        [VFIO_BAR_WC_NO_MMAP_SUB_PAGE] = "sub-page",
    };

    module_call_init(MODULE_INIT_QOM);
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vfio/bar-wc/every-combination", test_every_combination);
    g_test_add_func("/vfio/bar-wc/messages", test_messages);
    g_test_add_func("/vfio/bar-wc/mmap-failed", test_mmap_failed);
    g_test_add_func("/vfio/bar-wc/check-incoming", test_check_incoming);
    g_test_add_func("/vfio/bar-wc/migration/every-pair",
                    test_migration_every_pair);
    g_test_add_func("/vfio/bar-wc/migration/needed", test_migration_needed);
    g_test_add_func("/vfio/bar-wc/migration/not-received",
                    test_migration_not_received);
    for (int i = VFIO_BAR_WC_NO_MMAP_HOST; i < VFIO_BAR_WC_NO_MMAP__MAX; i++) {
        g_autofree char *path = g_strdup_printf(
            "/vfio/bar-wc/not-mmapped-hint/%s", no_mmap_names[i]);

        g_test_add_data_func(path, GINT_TO_POINTER(i), test_not_mmapped_hint);
    }
    return g_test_run();
}
