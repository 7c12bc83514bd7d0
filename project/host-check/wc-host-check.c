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
 * needs the device open, which QEMU's realize does): it looks in
 * /proc/kallsyms for a function that the series adds and that compilers
 * keep (see series_symbols below), and says which it found.
 *
 * Output: one "key: value" line a fact, then a line a device and an
 * indented line a BAR (shown folded here), e.g. in the nested test bed:
 *
 *   wc-host-check: arm64 KVM host
 *   kernel: 7.1.8 (#1 SMP PREEMPT ...), aarch64, page size 4096
 *   stage2-default: Normal-NC: Linux 6.9 and later let KVM map ...
 *   region-memattr: offered: /proc/kallsyms has kvm_inject_dabt_alignment, ...
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

enum tristate { NO, YES, UNKNOWN };

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
 * Functions that only a kernel with the series has, with what each tells:
 * the series adds VFIO_DEVICE_FEATURE_REGION_MEMATTR in a static function
 * of vfio_pci_core.c that compilers inline into the feature ioctl, so it
 * has no symbol; these two survive.  KVM is built into every arm64 kernel
 * that has it, so the first is there whenever the whole series is; a
 * kernel that carried the vfio-pci patch alone would show only the second,
 * and only with nvgrace-gpu loaded.  QEMU's realize, which probes the
 * feature on the open device, has the last word.
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

/* Whether the running kernel's vfio-pci offers the series' feature. */
static void check_memattr(void)
{
    FILE *f = fopen("/proc/kallsyms", "re");
    char line[512], name[256];
    bool seen_any = false;

    if (!f) {
        host.memattr = UNKNOWN;
        printf("region-memattr: unknown: /proc/kallsyms: %s\n",
               strerror(errno));
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%*s %*s %255s", name) != 1) {
            continue;
        }
        seen_any = true;
        for (size_t i = 0;
             i < sizeof(series_symbols) / sizeof(series_symbols[0]); i++) {
            if (strcmp(name, series_symbols[i].name) == 0) {
                fclose(f);
                host.memattr = YES;
                printf("region-memattr: offered: /proc/kallsyms has %s, "
                       "%s\n", series_symbols[i].name,
                       series_symbols[i].what);
                return;
            }
        }
    }
    fclose(f);
    if (!seen_any) {
        host.memattr = UNKNOWN;
        printf("region-memattr: unknown: /proc/kallsyms is empty "
               "(a kernel without CONFIG_KALLSYMS)\n");
        return;
    }
    host.memattr = NO;
    printf("region-memattr: not offered: /proc/kallsyms has none of "
           "the series' functions (");
    for (size_t i = 0; i < sizeof(series_symbols) / sizeof(series_symbols[0]);
         i++) {
        printf("%s%s", i ? ", " : "", series_symbols[i].name);
    }
    printf("): a kernel without VFIO_DEVICE_FEATURE_REGION_MEMATTR\n");
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
            return UNKNOWN;
        }
        log[len] = 0;
    }
    snprintf(needle, sizeof(needle), "CPU features: detected: %s", desc);
    return strstr(log, needle) ? YES : NO;
}

/* @fd: /dev/kvm, opened read-only, or -1 and @open_errno. */
static void check_kvm(int fd, int open_errno)
{
    int r;

    if (fd < 0) {
        printf("kvm: none: /dev/kvm: %s\n", strerror(open_errno));
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
    case YES:
        printf("kvm-fwb: yes: the kernel log says \"CPU features: detected: "
               "Stage-2 Force Write-Back\"\n");
        break;
    case NO:
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
    bool nvgrace_memory = strcmp(driver, "nvgrace_gpu_vfio_pci") == 0 &&
                          (b->nr == 2 || b->nr == 4);

    printf(" bar%u-wc: ", b->nr);
    if (!host.kvm) {
        printf("not predicted: no KVM on this host\n");
        return;
    }
    fail[0] = 0;
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
            snprintf(fail, sizeof(fail), "KVM on %s cannot enforce a memory "
                     "type", host.arch);
        } else if (nvgrace_memory) {
            printf("auto -> nvgrace-gpu's own mapping of its device memory "
                   "(cacheable where KVM maps cacheable PFNMAP); ");
            snprintf(fail, sizeof(fail), host.memattr == NO
                     ? "the host's vfio-pci does not offer "
                       "VFIO_DEVICE_FEATURE_REGION_MEMATTR"
                     : "nvgrace-gpu maps its device memory BAR itself and "
                       "refuses a memory attribute (EINVAL)");
        } else {
            printf("auto -> %s; ", auto_type);
            if (host.memattr == NO) {
                snprintf(fail, sizeof(fail), "the host's vfio-pci does not "
                         "offer VFIO_DEVICE_FEATURE_REGION_MEMATTR");
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
           host.memattr == UNKNOWN ? "with the series " : "",
           b->prefetchable ? "" : " (QEMU warns: not prefetchable)",
           host.memattr == UNKNOWN ? "with the series " : "");
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
    DIR *d = opendir(PCI_DEVICES);
    struct dirent *e;
    unsigned found = 0;

    if (!d) {
        printf("devices: unknown: %s: %s\n", PCI_DEVICES, strerror(errno));
        return false;
    }
    while ((e = readdir(d))) {
        char drvbuf[PATH_MAX], grpbuf[PATH_MAX];
        char vendor[16] = "0x?", device[16] = "0x?";
        const char *driver, *group;
        struct stat st;
        int dir;

        if (e->d_name[0] == '.') {
            continue;
        }
        dir = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
    closedir(d);
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
    uname(&u);
    host.arch = u.machine;
    host.arm64 = strcmp(u.machine, "aarch64") == 0;
    kvm_fd = open("/dev/kvm", O_RDONLY | O_CLOEXEC);
    kvm_errno = errno;
    if (!host.arm64) {
        printf("wc-host-check: not an arm64 KVM host: this is %s; barN-wc "
               "under KVM is for arm64 hosts\n", u.machine);
    } else if (kvm_fd < 0) {
        printf("wc-host-check: not an arm64 KVM host: /dev/kvm: %s%s\n",
               strerror(kvm_errno), kvm_errno == ENOENT
               ? " (KVM needs the kernel booted at EL2, with CONFIG_KVM)"
               : " (run it as root)");
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
