/*
 * wc-host-check: what QEMU's barN-wc=auto, on and off (the vfio-pci
 * properties of the QEMU series) would give each BAR of each vfio-pci
 * device on this host, under KVM.
 *
 * Run it on the arm64 KVM host before anything else: it says which kernel
 * runs, whether its vfio-pci offers VFIO_DEVICE_FEATURE_REGION_MEMATTR
 * (from the Linux series that barN-wc=on and off need under KVM) and how it
 * decided that, what KVM tells about cacheable PFNMAP and FWB, and, for
 * each device bound to vfio-pci or a vfio-pci variant driver, each BAR's
 * kind, size, whether it is 64-bit, prefetchable and mmappable, the
 * property that names it, and what each value of that property gives:
 * the stage 2 memory type, or QEMU failing the device's realize.
 *
 *   cc -O2 -Wall -o wc-host-check wc-host-check.c
 *   ./wc-host-check
 *
 * Run it as root: the kernel log (FWB) and /dev/kvm are usually root's.
 *
 * It is read-only: it reads sysfs, /proc and the kernel log, and asks
 * /dev/kvm, opened read-only, for its API version and capabilities, with
 * no VM created.  It opens no vfio device or group (opening a vfio-pci
 * device enables and resets it) and writes nothing.  So it cannot ask
 * vfio-pci itself whether it offers the feature (VFIO_DEVICE_FEATURE_PROBE
 * needs the device open, which QEMU's realize does): it looks for the
 * member the series adds to struct vfio_pci_core_device in the kernel's
 * BTF (/sys/kernel/btf), and without BTF infers it from functions of the
 * series in /proc/kallsyms, and says which.
 *
 * Output: one "key: value" line a fact, then a line a device and an
 * indented line a BAR (shown folded here), e.g. in the nested test bed:
 *
 *   wc-host-check: arm64 KVM host
 *   kernel: 7.1.8 (#1 SMP PREEMPT ...), aarch64, page size 4096
 *   stage2-default: Normal-NC: Linux 6.9 and later let KVM map ...
 *   region-memattr: likely offered (inferred, no BTF of vfio_pci_core ...
 *   kvm: /dev/kvm, API version 12
 *   kvm-cacheable-pfnmap: known (Linux 6.17 and later), answered for a VM ...
 *   kvm-fwb: yes: the kernel log says "CPU features: detected: Stage-2 ..."
 *   vfio-pci: registered (/sys/bus/pci/drivers/vfio-pci)
 *   device 0000:00:01.0 [1af4:1110] driver vfio-pci iommu-group 1
 *     bar2 mem64 size=0x100000 64bit=yes prefetchable=yes mmap=yes
 *       bar2-wc: auto -> Normal-NC at stage 2 (the host's default);
 *       on -> Normal-NC at stage 2, host mapping WC;
 *       off -> Device-nGnRE at stage 2
 *
 * Exit status: 0 when this is an arm64 KVM host and it checked it; 2 when
 * it is not one (another architecture, or no usable /dev/kvm), which the
 * first line says, after which it lists what it could check all the same;
 * 1 when it could not read sysfs.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define EXIT_NOT_ARM64_KVM 2

/* include/uapi/linux/kvm.h (Linux 7.1.8), which a user's system may lack. */
#define KVMIO 0xAE
#define KVM_GET_API_VERSION _IO(KVMIO, 0x00)
#define KVM_CHECK_EXTENSION _IO(KVMIO, 0x03)
#define KVM_CAP_ARM_CACHEABLE_PFNMAP_SUPPORTED 243

/* include/linux/ioport.h: the flags of /sys/bus/pci/devices/X/resource. */
#define IORESOURCE_IO       0x00000100
#define IORESOURCE_MEM      0x00000200
#define IORESOURCE_PREFETCH 0x00002000
#define IORESOURCE_MEM_64   0x00100000

#define PCI_STD_NUM_BARS 6
#define PCI_DEVICES "/sys/bus/pci/devices"

enum tristate { TRI_NO, TRI_YES, TRI_UNKNOWN };

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* What decides the predictions, for every BAR of every device. */
static struct host {
    bool arm64;
    bool kvm;
    const char *arch;
    long page_size;
    /* Linux 6.9 and later: vfio-pci BAR mmaps are VM_ALLOW_ANY_UNCACHED. */
    bool nc_default;
    enum tristate memattr;
} host;

/*
 * The series adds this member to struct vfio_pci_core_device
 * (include/linux/vfio_pci_core.h): a kernel with BTF names it in the type
 * information of vfio_pci_core, which is world-readable.
 */
#define SERIES_BTF_MEMBER "bar_memattr_fixed"

/*
 * Without BTF, functions that a kernel with the whole series has: the
 * feature itself is a static function of vfio_pci_core.c that compilers
 * inline into the feature ioctl, so it has no symbol.  They are only
 * evidence: a kernel could carry the KVM patch without the vfio-pci one.
 */
static const struct {
    const char *name;
    const char *what;
} series_symbols[] = {
    { "kvm_inject_dabt_alignment",
      "KVM's stage 2 Alignment fault injection, which the series adds "
      "with the vfio-pci feature (patches 2 and 3)" },
    { "nvgrace_gpu_mmaps_region",
      "nvgrace-gpu's refusal of the feature for its device memory "
      "(patch 3)" },
};

/* @name, a file in the directory @dir, opened read-only, or NULL. */
static FILE *open_in(int dir, const char *name)
{
    int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;

    if (fd >= 0 && !f) {
        close(fd);
    }
    return f;
}

/* The first line of the file @name in @dir, without its newline. */
static bool read_line(int dir, const char *name, char *buf, size_t size)
{
    FILE *f = open_in(dir, name);
    bool ok;

    if (!f) {
        return false;
    }
    ok = fgets(buf, size, f) != NULL;
    fclose(f);
    if (ok) {
        buf[strcspn(buf, "\n")] = 0;
    }
    return ok;
}

/* The last component of the target of the symlink @link in @dir, or NULL. */
static const char *link_name(int dir, const char *link, char *buf,
                             size_t size)
{
    ssize_t n = readlinkat(dir, link, buf, size - 1);

    if (n < 0) {
        return NULL;
    }
    buf[n] = 0;
    return strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
}

static void check_kernel(const struct utsname *u)
{
    int major = 0, minor = 0;

    host.page_size = sysconf(_SC_PAGESIZE);
    sscanf(u->release, "%d.%d", &major, &minor);
    host.nc_default = major > 6 || (major == 6 && minor >= 9);
    printf("kernel: %s (%s), %s, page size %ld\n", u->release, u->version,
           u->machine, host.page_size);
    if (!host.arm64) {
        return;
    }
    printf("stage2-default: %s\n", host.nc_default
           ? "Normal-NC: Linux 6.9 and later let KVM map vfio-pci BARs "
             "Normal-NC at stage 2 (VM_ALLOW_ANY_UNCACHED)"
           : "Device-nGnRE: kernels before Linux 6.9 map vfio-pci BARs "
             "Device-nGnRE at stage 2");
}

/*
 * Whether the BTF file @path names SERIES_BTF_MEMBER: TRI_UNKNOWN where
 * it cannot be read.
 */
static enum tristate btf_names_member(const char *path)
{
    /* BTF's strings are NUL-terminated: the needle is a whole name. */
    static const char needle[] = "\0" SERIES_BTF_MEMBER;
    FILE *f = fopen(path, "re");
    char *data = NULL;
    size_t len = 0, got;
    enum tristate found = TRI_UNKNOWN;

    if (!f) {
        return TRI_UNKNOWN;
    }
    do {
        char *grown = realloc(data, len + 65536);

        if (!grown) {
            goto out;
        }
        data = grown;
        got = fread(data + len, 1, 65536, f);
        len += got;
    } while (got == 65536);
    if (!ferror(f)) {
        found = memmem(data, len, needle, sizeof(needle)) ? TRI_YES : TRI_NO;
    }
out:
    free(data);
    fclose(f);
    return found;
}

/*
 * Whether the kernel has a function of series_symbols (its index in
 * @which), or TRI_UNKNOWN.
 */
static enum tristate kallsyms_has_series_symbol(size_t *which)
{
    FILE *f = fopen("/proc/kallsyms", "re");
    char *line = NULL, name[256];
    size_t size = 0;
    bool seen_any = false;
    enum tristate found = TRI_NO;

    if (!f) {
        return TRI_UNKNOWN;
    }
    while (found == TRI_NO && getline(&line, &size, f) > 0) {
        if (sscanf(line, "%*s %*s %255s", name) != 1) {
            continue;
        }
        seen_any = true;
        for (size_t i = 0; i < ARRAY_SIZE(series_symbols); i++) {
            if (strcmp(name, series_symbols[i].name) == 0) {
                *which = i;
                found = TRI_YES;
            }
        }
    }
    free(line);
    fclose(f);
    return seen_any ? found : TRI_UNKNOWN;
}

/*
 * Whether the running kernel's vfio-pci offers the series' feature: from
 * the BTF of vfio_pci_core (a module, loaded) or of vmlinux (vfio-pci
 * built in), else inferred from /proc/kallsyms.
 */
static void check_memattr(void)
{
    const char *btf = NULL;
    size_t which = 0;

    if (!access("/sys/kernel/btf/vfio_pci_core", R_OK)) {
        btf = "/sys/kernel/btf/vfio_pci_core";
    } else if (!access("/sys/module/vfio_pci_core", F_OK) &&
               access("/sys/module/vfio_pci_core/initstate", F_OK)) {
        /* Built in: its types are vmlinux's. */
        btf = "/sys/kernel/btf/vmlinux";
    }
    host.memattr = btf ? btf_names_member(btf) : TRI_UNKNOWN;
    if (host.memattr != TRI_UNKNOWN) {
        printf("region-memattr: %s: the BTF of vfio_pci_core (%s) %s "
               "struct vfio_pci_core_device." SERIES_BTF_MEMBER "\n",
               host.memattr == TRI_YES ? "offered" : "not offered", btf,
               host.memattr == TRI_YES ? "has" : "has no");
        return;
    }
    /* Inferred: say so, and predict as if offered only when evidence says. */
    host.memattr = kallsyms_has_series_symbol(&which);
    switch (host.memattr) {
    case TRI_YES:
        printf("region-memattr: likely offered (inferred, no BTF of "
               "vfio_pci_core to read): /proc/kallsyms has %s, %s; QEMU's "
               "probe at realize decides\n", series_symbols[which].name,
               series_symbols[which].what);
        break;
    case TRI_NO:
        printf("region-memattr: likely not offered (inferred, no BTF of "
               "vfio_pci_core to read): /proc/kallsyms has none of the "
               "series' functions; QEMU's probe at realize decides\n");
        break;
    default:
        printf("region-memattr: unknown: neither the BTF of vfio_pci_core "
               "nor /proc/kallsyms could be read\n");
    }
}

/* A "CPU features: detected: @desc" line in the kernel log. */
static enum tristate kernel_log_has(const char *desc)
{
    static char *log;
    static int len = -1;
    char needle[128];

    if (len < 0) {
        int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);

        log = size > 0 ? malloc(size + 1) : NULL;
        len = log ? klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, size) : -1;
        if (len < 0) {
            return TRI_UNKNOWN;
        }
        log[len] = 0;
    }
    snprintf(needle, sizeof(needle), "CPU features: detected: %s", desc);
    return strstr(log, needle) ? TRI_YES : TRI_NO;
}

/* @fd: /dev/kvm, opened read-only, or -1 and @open_errno. */
static void check_kvm(int fd, int open_errno)
{
    int r;

    if (fd < 0) {
        /* KVM is there; only its capability lines need root. */
        host.kvm = open_errno == EACCES || open_errno == EPERM;
        printf("kvm: %s: /dev/kvm: %s\n",
               host.kvm ? "present, capabilities unread (run as root)"
                        : "none", strerror(open_errno));
        return;
    }
    r = ioctl(fd, KVM_GET_API_VERSION, 0);
    host.kvm = r >= 0;
    printf("kvm: /dev/kvm, API version %d\n", r);
    if (!host.arm64 || !host.kvm) {
        close(fd);
        return;
    }
    /*
     * Linux 6.17 and later answer it for a VM only (-EINVAL on /dev/kvm);
     * earlier ones do not know it (0).  This program creates no VM.
     */
    r = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_CACHEABLE_PFNMAP_SUPPORTED);
    close(fd);
    if (r < 0 && errno == EINVAL) {
        printf("kvm-cacheable-pfnmap: known (Linux 6.17 and later), "
               "answered for a VM only, which this check does not create; "
               "it needs FWB and DIC\n");
    } else {
        printf("kvm-cacheable-pfnmap: %s\n", r > 0 ? "yes"
               : "no: a kernel before Linux 6.17, which maps no PFNMAP "
                 "memory cacheable at stage 2");
    }
    switch (kernel_log_has("Stage-2 Force Write-Back")) {
    case TRI_YES:
        printf("kvm-fwb: yes: the kernel log says \"CPU features: detected: "
               "Stage-2 Force Write-Back\"\n");
        break;
    case TRI_NO:
        printf("kvm-fwb: not in the kernel log (no FWB, or the boot "
               "messages have rotated out)\n");
        break;
    default:
        printf("kvm-fwb: unknown: the kernel log: %s (run as root)\n",
               strerror(errno));
    }
}

enum bar_kind { BAR_NONE, BAR_UPPER_HALF, BAR_IO, BAR_MEM32, BAR_MEM64 };

static const char *const bar_kind_name[] = {
    [BAR_NONE] = "unimplemented", [BAR_UPPER_HALF] = "upper-half",
    [BAR_IO] = "io", [BAR_MEM32] = "mem32", [BAR_MEM64] = "mem64",
};

struct bar {
    unsigned nr;
    enum bar_kind kind;
    uint64_t start, size;
    bool prefetchable;
};

/*
 * Whether vfio-pci lets userspace mmap the BAR (vfio_pci_probe_mmaps()):
 * "yes" for memory BARs of a page or more; "sub-page" for smaller ones
 * that start a page, which it mmaps with the rest of the page reserved;
 * "no" for the others.  The MSI-X table does not stop it: since Linux
 * 4.16 vfio-pci lets QEMU mmap a table's BAR whole
 * (VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) and QEMU lays the table over it.
 */
static const char *bar_mmap(const struct bar *b)
{
    if (b->kind != BAR_MEM32 && b->kind != BAR_MEM64) {
        return "no";
    }
    if (b->size >= (uint64_t)host.page_size) {
        return "yes";
    }
    return b->start % host.page_size ? "no" : "sub-page";
}

/*
 * What QEMU's realize makes of barN-wc=auto, on and off for @b under
 * -accel kvm on this host: vfio_pci_bar_wc_resolve() and, with the
 * series, the memory attribute that vfio_bar_set_host_memattr() sets.
 */
static void print_predictions(const struct bar *b, const char *driver)
{
    char fail[256];
    const char *mmap = bar_mmap(b);
    const char *auto_type = host.nc_default
        ? "Normal-NC at stage 2 (the host's default)"
        : "Device-nGnRE at stage 2 (the host's default before Linux 6.9)";
    /*
     * nvgrace-gpu emulates BARs 2-5 (two 64-bit BARs over its device
     * memory) in config space and region info: sysfs shows the physical
     * BARs, not what QEMU sees.
     */
    bool nvgrace_emulated = strcmp(driver, "nvgrace_gpu_vfio_pci") == 0 &&
                            b->nr >= 2;

    printf(" bar%u-wc: ", b->nr);
    if (!host.kvm) {
        printf("not predicted: no KVM on this host\n");
        return;
    }
    fail[0] = 0;
    if (nvgrace_emulated && b->nr % 2) {
        printf("auto -> no type: the upper half of nvgrace-gpu's emulated "
               "BAR %u; ", b->nr - 1);
        snprintf(fail, sizeof(fail), "BAR %u is the upper half of 64-bit "
                 "BAR %u: set bar%u-wc", b->nr, b->nr - 1, b->nr - 1);
    } else if (nvgrace_emulated) {
        printf("auto -> nvgrace-gpu's own mapping of its device memory "
               "(emulated BAR: sysfs does not show it); ");
        snprintf(fail, sizeof(fail), host.memattr == TRI_NO
                 ? "the host's vfio-pci does not offer "
                   "VFIO_DEVICE_FEATURE_REGION_MEMATTR"
                 : "nvgrace-gpu maps its device memory BAR itself and "
                   "refuses a memory attribute (EINVAL)");
    } else {
        switch (b->kind) {
        case BAR_IO:
            printf("auto -> no type: QEMU traps the I/O BAR; ");
            snprintf(fail, sizeof(fail), "BAR %u is an I/O BAR", b->nr);
            break;
        case BAR_UPPER_HALF:
            printf("auto -> no type: the upper half of BAR %u; ", b->nr - 1);
            snprintf(fail, sizeof(fail), "BAR %u is the upper half of 64-bit "
                     "BAR %u: set bar%u-wc", b->nr, b->nr - 1, b->nr - 1);
            break;
        case BAR_NONE:
            printf("auto -> no type: not implemented; ");
            snprintf(fail, sizeof(fail), "BAR %u is not implemented", b->nr);
            break;
        default:
            if (strcmp(mmap, "no") == 0) {
                printf("auto -> no type: QEMU traps the BAR; ");
                snprintf(fail, sizeof(fail), "the host does not let QEMU mmap "
                         "BAR %u", b->nr);
            } else if (strcmp(mmap, "sub-page") == 0) {
                printf("auto -> %s where the guest places the BAR at the start "
                       "of a page, else QEMU traps it; ",
                       host.arm64 ? auto_type : "the guest's own type");
                snprintf(fail, sizeof(fail), "BAR %u is smaller than a host "
                         "page", b->nr);
            } else if (!host.arm64) {
                printf("auto -> the guest's own type: KVM on %s takes no type "
                       "from the host mapping; ", host.arch);
                snprintf(fail, sizeof(fail), "KVM on %s cannot enforce a "
                         "memory type", host.arch);
            } else {
                printf("auto -> %s; ", auto_type);
                if (host.memattr == TRI_NO) {
                    snprintf(fail, sizeof(fail), "the host's vfio-pci does not "
                             "offer VFIO_DEVICE_FEATURE_REGION_MEMATTR");
                }
            }
        }
    }
    if (fail[0]) {
        printf("on -> realize fails: %s; off -> realize fails: %s\n",
               fail, fail);
        return;
    }
    printf("on -> %sNormal-NC at stage 2, host mapping WC%s; "
           "off -> %sDevice-nGnRE at stage 2\n",
           host.memattr == TRI_UNKNOWN ? "with the series " : "",
           b->prefetchable ? "" : " (QEMU warns: not prefetchable)",
           host.memattr == TRI_UNKNOWN ? "with the series " : "");
}

static void print_bars(int dir, const char *driver)
{
    FILE *f = open_in(dir, "resource");
    char line[256];
    bool prev_mem64 = false;

    if (!f) {
        printf("  bars: unknown: resource: %s\n", strerror(errno));
        return;
    }
    for (unsigned nr = 0; nr < PCI_STD_NUM_BARS &&
                          fgets(line, sizeof(line), f); nr++) {
        uint64_t start, end, flags;
        struct bar b = { .nr = nr };

        if (sscanf(line, "%" SCNx64 " %" SCNx64 " %" SCNx64,
                   &start, &end, &flags) != 3) {
            break;
        }
        b.start = start;
        b.size = end > start ? end - start + 1 : 0;
        if (!b.size) {
            b.kind = prev_mem64 ? BAR_UPPER_HALF : BAR_NONE;
        } else if (flags & IORESOURCE_IO) {
            b.kind = BAR_IO;
        } else if (flags & IORESOURCE_MEM) {
            b.kind = flags & IORESOURCE_MEM_64 ? BAR_MEM64 : BAR_MEM32;
            b.prefetchable = flags & IORESOURCE_PREFETCH;
        }
        prev_mem64 = b.kind == BAR_MEM64;
        printf("  bar%u %s size=0x%" PRIx64 " 64bit=%s prefetchable=%s "
               "mmap=%s", nr, bar_kind_name[b.kind], b.size,
               b.kind == BAR_MEM64 ? "yes" : "no",
               b.prefetchable ? "yes" : "no", bar_mmap(&b));
        print_predictions(&b, driver);
    }
    fclose(f);
}

/*
 * Devices bound to vfio-pci or a variant driver (nvgrace-gpu, mlx5, ...):
 * those that vfio registered (a vfio-dev child, Linux 6.1 and later), and
 * on older kernels those of vfio-pci itself.
 */
static bool print_devices(void)
{
    struct dirent **names;
    int n = scandir(PCI_DEVICES, &names, NULL, alphasort);
    int devices = open(PCI_DEVICES, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    unsigned found = 0;

    if (n < 0 || devices < 0) {
        printf("devices: unknown: %s: %s\n", PCI_DEVICES, strerror(errno));
        return false;
    }
    for (int i = 0; i < n; i++) {
        struct dirent *e = names[i];
        char drvbuf[PATH_MAX], grpbuf[PATH_MAX];
        char vendor[16] = "0x?", device[16] = "0x?";
        const char *driver, *group;
        struct stat st;
        int dir;

        if (e->d_name[0] == '.') {
            continue;
        }
        dir = openat(devices, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0) {
            continue;
        }
        driver = link_name(dir, "driver", drvbuf, sizeof(drvbuf));
        if (driver && (!fstatat(dir, "vfio-dev", &st, 0) ||
                       !strcmp(driver, "vfio-pci"))) {
            found++;
            read_line(dir, "vendor", vendor, sizeof(vendor));
            read_line(dir, "device", device, sizeof(device));
            group = link_name(dir, "iommu_group", grpbuf, sizeof(grpbuf));
            printf("device %s [%s:%s] driver %s%s iommu-group %s\n",
                   e->d_name, vendor + 2, device + 2, driver,
                   strcmp(driver, "vfio-pci") ? " (a vfio-pci variant)" : "",
                   group ? group : "none");
            print_bars(dir, driver);
        }
        close(dir);
    }
    for (int i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    close(devices);
    if (!found) {
        printf("devices: none bound to vfio-pci or a variant driver\n");
    }
    return true;
}

int main(int argc, char **argv)
{
    struct utsname u;
    int kvm_fd, kvm_errno;

    if (argc > 1) {
        fprintf(stderr, "usage: %s (no arguments; see its source's "
                "header)\n", argv[0]);
        return 1;
    }
    /* The first line says whether this host is what the rest is about. */
    if (uname(&u) < 0) {
        perror("wc-host-check: uname");
        return 1;
    }
    host.arch = u.machine;
    host.arm64 = strcmp(u.machine, "aarch64") == 0;
    kvm_fd = open("/dev/kvm", O_RDONLY | O_CLOEXEC);
    kvm_errno = errno;
    if (!host.arm64) {
        printf("wc-host-check: not an arm64 KVM host: this is %s; barN-wc "
               "under KVM is for arm64 hosts\n", u.machine);
    } else if (kvm_fd < 0 && kvm_errno != EACCES && kvm_errno != EPERM) {
        printf("wc-host-check: not an arm64 KVM host: /dev/kvm: %s%s\n",
               strerror(kvm_errno), kvm_errno == ENOENT
               ? " (KVM needs the kernel booted at EL2, with CONFIG_KVM)"
               : "");
    } else {
        printf("wc-host-check: arm64 KVM host\n");
    }
    check_kernel(&u);
    check_memattr();
    check_kvm(kvm_fd, kvm_errno);
    printf("vfio-pci: %s\n", access("/sys/bus/pci/drivers/vfio-pci", F_OK)
           ? "not registered (modprobe vfio-pci)"
           : "registered (/sys/bus/pci/drivers/vfio-pci)");
    if (!print_devices()) {
        return 1;
    }
    return host.arm64 && host.kvm ? 0 : EXIT_NOT_ARM64_KVM;
}
