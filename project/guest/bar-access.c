/*
 * bar-access: the guest side of the BAR memory type tests.
 *
 * Runs as /init of an initramfs on an aarch64 Linux guest.  It maps one
 * PCI BAR through sysfs twice, resourceN (the kernel maps it Device-nGnRE)
 * and resourceN_wc (Normal-NC), runs each access case in a forked child,
 * and prints one line a case:
 *
 *   bar-access: <mapping> <case> <result>
 *
 * where result is OK (the access worked and the data landed), BAD-DATA
 * (it worked, the data did not land), SUPPRESSED (an SVE non-fault load
 * did not access the BAR, reporting its elements in the FFR) or the
 * signal and si_code that
 * killed it, e.g. SIGBUS/BUS_ADRALN.  A case whose first access to the
 * BAR is a store that must fault (a TLB fill, for an emulator) gets
 * "+WROTE" after the signal if that store changed the BAR anyway.  Then
 * it powers the machine off.
 * First it prints the guest's RAM memcpy() throughput, for benchmarks:
 *
 *   bar-access: ram-memcpy <MB/s>
 *
 * Kernel command line parameters (passed to /init as environment):
 *   BAR_ACCESS_DEVICE=vvvv:dddd   PCI vendor:device to test (required)
 *   BAR_ACCESS_BAR=N              BAR index (default 2)
 *   BAR_ACCESS_MODE=bandwidth     instead of the cases, write and read
 *                                 MB/s through both mappings, for sizes
 *                                 64 B to 1 MiB and four kinds of access
 *                                 (8-byte stores, 16-byte STP, memcpy,
 *                                 64-byte bursts), as a table with the
 *                                 ratio WC/Device:
 *                                   bar-access: bw <size> <method> ...
 *   BAR_ACCESS_MODE=copy-until-removed
 *                                 instead of the cases, memcpy() pages
 *                                 into resourceN_wc in a loop, each
 *                                 starting with its number (printing
 *                                 "bar-access: copying"), for the test
 *                                 that unplugs the device meanwhile, and
 *                                 report how the loop ended (at most
 *                                 20 s):
 *                                   bar-access: copy ended <how> after
 *                                   <n> copies, device <present|gone>
 *   BAR_ACCESS_SCRATCH=off+len    the bandwidth mode's range in the BAR,
 *                                 64-byte aligned: nothing outside it is
 *                                 written (required for that mode)
 *
 * Run as a program rather than /init (in one's own VM, on a real device)
 * it only does the bandwidth mode, with the same environment, and neither
 * mounts anything nor powers the machine off.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define COPY_LEN 4096

/* What a child reports back through a shared page. */
struct report {
    int sig;
    int code;
    int data_ok;
    volatile unsigned long copies;  /* copy-until-removed */
};

static struct report *report;
static volatile uint8_t *bar;
static size_t bar_len;
static uint8_t ram[2 * COPY_LEN] __attribute__((aligned(4096)));

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    report->sig = sig;
    report->code = si->si_code;
    _exit(2);
}

/* Byte loads are never misaligned: use them to check what landed. */
static int bar_equals(size_t off, const uint8_t *expect, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (bar[off + i] != expect[i]) {
            return 0;
        }
    }
    return 1;
}

static int bar_is(size_t off, uint8_t value, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (bar[off + i] != value) {
            return 0;
        }
    }
    return 1;
}

static void bar_fill(size_t off, uint8_t value, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        bar[off + i] = value;
    }
}

static void fill_pattern(uint8_t *p, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(seed + i * 7);
    }
}

static int store8(size_t off)
{
    uint64_t v = 0x1122334455667788ull, r;

    asm volatile("str %1, [%0]" : : "r"(bar + off), "r"(v) : "memory");
    asm volatile("ldr %0, [%1]" : "=r"(r) : "r"(bar + off) : "memory");
    return r == v && bar_equals(off, (const uint8_t *)&v, 8);
}

static int load8(size_t off)
{
    uint64_t v = 0x0102030405060708ull, r;

    memcpy(ram, &v, 8);
    for (int i = 0; i < 8; i++) {
        bar[off + i] = ram[i];
    }
    asm volatile("ldr %0, [%1]" : "=r"(r) : "r"(bar + off) : "memory");
    return r == v;
}

static int stp_ldp(size_t off)
{
    uint64_t a = 0xa1a2a3a4a5a6a7a8ull, b = 0xb1b2b3b4b5b6b7b8ull, ra, rb;

    asm volatile("stp %1, %2, [%0]" : : "r"(bar + off), "r"(a), "r"(b)
                 : "memory");
    asm volatile("ldp %0, %1, [%2]" : "=r"(ra), "=r"(rb) : "r"(bar + off)
                 : "memory");
    return ra == a && rb == b && bar_equals(off, (const uint8_t *)&a, 8);
}

static int copy(size_t dst_off, size_t src_off)
{
    fill_pattern(ram + src_off, COPY_LEN, (uint8_t)dst_off);
    memcpy((void *)(bar + dst_off), ram + src_off, COPY_LEN);
    return bar_equals(dst_off, ram + src_off, COPY_LEN);
}

static unsigned zva_block_size(void)
{
    uint64_t dczid;

    asm("mrs %0, dczid_el0" : "=r"(dczid));
    return 4u << (dczid & 0xf);
}

static int dc_zva(size_t off)
{
    unsigned len = zva_block_size();

    bar_fill(off, 0xa5, len);
    asm volatile("dc zva, %0" : : "r"(bar + off) : "memory");
    return bar_is(off, 0, len);
}

static int zero(size_t off)
{
    bar_fill(off, 0x5a, COPY_LEN);
    memset((void *)(bar + off), 0, COPY_LEN);
    return bar_is(off, 0, COPY_LEN);
}

/*
 * SVE, two doubleword elements.  Device memory needs them aligned to
 * their size; a non-fault load must not access it at all, and reports
 * its elements in the FFR instead (returns 2: "SUPPRESSED").
 */
/* A pattern at @off of the BAR, and in ram[] to compare with. */
static void bar_put_pattern(size_t off, size_t len)
{
    fill_pattern(ram, len, (uint8_t)off);
    for (size_t i = 0; i < len; i++) {
        bar[off + i] = ram[i];
    }
}

static int sve_ld1d(size_t off)
{
    uint64_t v[2];

    bar_put_pattern(off, 16);
    asm volatile(".arch_extension sve\n\t"
                 "ptrue p0.d, vl2\n\t"
                 "ld1d {z0.d}, p0/z, [%0]\n\t"
                 "str q0, [%1]"
                 : : "r"(bar + off), "r"(v) : "v0", "p0", "memory");
    return memcmp(v, ram, 16) == 0;
}

static int sve_st1d(size_t off)
{
    uint64_t v[2] = { 0x1122334455667788ull, 0x99aabbccddeeff00ull };

    asm volatile(".arch_extension sve\n\t"
                 "ptrue p0.d, vl2\n\t"
                 "ld1d {z0.d}, p0/z, [%1]\n\t"
                 "st1d {z0.d}, p0, [%0]"
                 : : "r"(bar + off), "r"(v) : "v0", "p0", "memory");
    return bar_equals(off, (const uint8_t *)v, 16);
}

static int sve_ldnf1d(size_t off)
{
    uint64_t v[2];
    uint8_t ffr[256 / 8];

    bar_put_pattern(off, 16);
    asm volatile(".arch_extension sve\n\t"
                 "setffr\n\t"
                 "ptrue p0.d, vl2\n\t"
                 "ldnf1d {z0.d}, p0/z, [%0]\n\t"
                 "rdffr p1.b\n\t"
                 "str q0, [%1]\n\t"
                 "str p1, [%2]"
                 : : "r"(bar + off), "r"(v), "r"(ffr)
                 : "v0", "p0", "p1", "memory");
    if (!(ffr[0] & 1) && !(ffr[1] & 1)) {
        return 2;
    }
    return (ffr[0] & 1) && (ffr[1] & 1) && memcmp(v, ram, 16) == 0;
}

/*
 * FEAT_MOPS: the architecture leaves the size of the accesses of CPY*
 * and SET* open, so an implementation may copy to and set Device memory
 * at any alignment.  SIGILL where the CPU or the kernel (before Linux
 * 6.5) does not offer them.
 */
static int mops_set(size_t off)
{
    void *dst = (void *)(bar + off);
    size_t len = 101;

    bar_fill(off - 1, 0x11, len + 2);
    asm volatile(".arch_extension mops\n\t"
                 "setp [%0]!, %1!, %2\n\t"
                 "setm [%0]!, %1!, %2\n\t"
                 "sete [%0]!, %1!, %2"
                 : "+r"(dst), "+r"(len) : "r"(0x5aul) : "cc", "memory");
    return bar_is(off, 0x5a, 101) && bar[off - 1] == 0x11 &&
           bar[off + 101] == 0x11;
}

static int mops_cpy(size_t off)
{
    void *dst = (void *)(bar + off);
    const void *src = ram + 5;
    size_t len = 77;

    fill_pattern(ram + 5, len, (uint8_t)off);
    bar_fill(off - 1, 0x11, len + 2);
    asm volatile(".arch_extension mops\n\t"
                 "cpyp [%0]!, [%1]!, %2!\n\t"
                 "cpym [%0]!, [%1]!, %2!\n\t"
                 "cpye [%0]!, [%1]!, %2!"
                 : "+r"(dst), "+r"(src), "+r"(len) : : "cc", "memory");
    return bar_equals(off, ram + 5, 77) && bar[off - 1] == 0x11 &&
           bar[off + 77] == 0x11;
}

struct access_case {
    const char *name;
    int (*run)(size_t off);
    size_t off;
    size_t first_store_len;     /* bytes of a first store that may fault */
};

/* What the parent leaves under a first store, to see if it landed. */
#define UNTOUCHED 0xee

static int copy_aligned(size_t off)
{
    return copy(off, 0);
}

static int copy_misaligned(size_t off)
{
    return copy(off + 3, 5);
}

static const struct access_case cases[] = {
    { "store8-aligned",     store8,          0x100 },
    { "store8-unaligned",   store8,          0x201, 8 },
    { "load8-unaligned",    load8,           0x301 },
    { "stp-ldp-aligned",    stp_ldp,         0x400 },
    { "stp-ldp-unaligned",  stp_ldp,         0x504, 16 },
    { "memcpy-aligned",     copy_aligned,    0x1000 },
    { "memcpy-misaligned",  copy_misaligned, 0x3000 },
    { "dc-zva",             dc_zva,          0x5000 },
    { "memset0-aligned",    zero,            0x6000 },
    { "memset0-misaligned", zero,            0x8003 },
    { "sve-ld1d-unaligned", sve_ld1d,        0x9804 },
    { "sve-st1d-unaligned", sve_st1d,        0x9904, 16 },
    { "sve-ldnf1d-aligned", sve_ldnf1d,      0x9a00 },
    { "mops-set-unaligned", mops_set,        0x9b03 },
    { "mops-cpy-unaligned", mops_cpy,        0x9c05 },
};

static const char *signame(int sig)
{
    switch (sig) {
    case SIGBUS: return "SIGBUS";
    case SIGSEGV: return "SIGSEGV";
    case SIGILL: return "SIGILL";
    default: return "SIG?";
    }
}

static const char *codename(int sig, int code)
{
    if (sig == SIGBUS) {
        switch (code) {
        case BUS_ADRALN: return "BUS_ADRALN";
        case BUS_ADRERR: return "BUS_ADRERR";
        case BUS_OBJERR: return "BUS_OBJERR";
        }
    } else if (sig == SIGSEGV) {
        switch (code) {
        case SEGV_MAPERR: return "SEGV_MAPERR";
        case SEGV_ACCERR: return "SEGV_ACCERR";
        }
    }
    return "?";
}

static void run_case(const char *mapping, const struct access_case *c)
{
    int status;
    pid_t pid;

    memset(report, 0, sizeof(*report));
    bar_fill(c->off, UNTOUCHED, c->first_store_len);
    pid = fork();
    if (pid == 0) {
        struct sigaction sa = { .sa_sigaction = on_fault,
                                .sa_flags = SA_SIGINFO };

        sigaction(SIGBUS, &sa, NULL);
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGILL, &sa, NULL);
        report->data_ok = c->run(c->off);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    if (report->sig) {
        printf("bar-access: %-12s %-20s %s/%s%s\n", mapping, c->name,
               signame(report->sig), codename(report->sig, report->code),
               bar_is(c->off, UNTOUCHED, c->first_store_len) ? "" : "+WROTE");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("bar-access: %-12s %-20s %s\n", mapping, c->name,
               report->data_ok == 2 ? "SUPPRESSED" :
               report->data_ok ? "OK" : "BAD-DATA");
    } else {
        printf("bar-access: %-12s %-20s DIED(status 0x%x)\n", mapping,
               c->name, status);
    }
    fflush(stdout);
}

/* RAM to RAM memcpy() throughput, in MB/s. */
static unsigned ram_memcpy_mbps(void)
{
    const size_t len = 8 << 20;
    const int rounds = 8;
    uint8_t *src = malloc(len), *dst = malloc(len);
    struct timespec t0, t1;
    double secs;

    if (!src || !dst) {
        return 0;
    }
    memset(src, 0x5a, len);
    memset(dst, 0, len);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < rounds; i++) {
        memcpy(dst, src, len);
        src[i] = dst[len - 1 - i];      /* keep the copies observable */
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(src);
    free(dst);
    secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    return secs > 0 ? (unsigned)(rounds * (len >> 20) / secs) : 0;
}

static int read_hex(const char *dir, const char *file, unsigned *val)
{
    char path[512], buf[32];
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    f = fopen(path, "r");
    if (!f) {
        return 0;
    }
    ok = fgets(buf, sizeof(buf), f) != NULL;
    fclose(f);
    *val = strtoul(buf, NULL, 16);
    return ok;
}

static int find_device(unsigned vendor, unsigned device, char *out, size_t len)
{
    const char *base = "/sys/bus/pci/devices";
    DIR *d = opendir(base);
    struct dirent *e;
    int found = 0;

    while (d && (e = readdir(d)) && !found) {
        char dir[512];
        unsigned v, dv;

        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(dir, sizeof(dir), "%s/%s", base, e->d_name);
        if (read_hex(dir, "vendor", &v) && read_hex(dir, "device", &dv) &&
            v == vendor && dv == device) {
            snprintf(out, len, "%s", dir);
            found = 1;
        }
    }
    if (d) {
        closedir(d);
    }
    return found;
}

/* mmap @dev's sysfs @file (resourceN, resourceN_wc) whole: NULL if not. */
static void *map_bar(const char *dev, const char *file, size_t *len)
{
    char path[600];
    struct stat st;
    void *p;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dev, file);
    fd = open(path, O_RDWR | O_SYNC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        printf("bar-access: %-12s cannot open %s: %s\n", file, path,
               strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    *len = st.st_size;
    p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        printf("bar-access: %-12s cannot mmap %s: %s\n", file, path,
               strerror(errno));
        return NULL;
    }
    return p;
}

static void test_mapping(const char *dev, const char *file)
{
    void *p = map_bar(dev, file, &bar_len);

    if (!p) {
        return;
    }
    if (bar_len < 0x9000 + COPY_LEN) {
        printf("bar-access: %-12s BAR too small (%zu bytes)\n", file, bar_len);
        munmap(p, bar_len);
        return;
    }
    bar = p;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_case(file, &cases[i]);
    }
    munmap(p, bar_len);
}

/*
 * memcpy() into the BAR while the device goes away under the copy, for
 * 20 s unless the child dies first: whether it gets a signal is the
 * kernel's business (Linux 6.12 keeps the mapping of a removed device's
 * resource file); that its stores no longer reach the device is QEMU's.
 */
static void copy_until_removed(const char *dev, int bar_index)
{
    char file[32];
    size_t len;
    uint8_t *p;
    pid_t pid;
    int status;

    snprintf(file, sizeof(file), "resource%d_wc", bar_index);
    p = map_bar(dev, file, &len);
    if (!p) {
        return;
    }
    report->copies = 0;
    fill_pattern(ram, COPY_LEN, 0x5a);
    printf("bar-access: copying into %s\n", file);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        for (;;) {
            unsigned long n = report->copies;

            memcpy(ram, &n, sizeof(n));
            memcpy(p + (n % (len / COPY_LEN)) * COPY_LEN, ram, COPY_LEN);
            report->copies = n + 1;
        }
    }
    for (int i = 0; i < 200 && waitpid(pid, &status, WNOHANG) == 0; i++) {
        usleep(100000);
    }
    if (waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        printf("bar-access: copy ended by the 20 s limit");
    } else if (WIFSIGNALED(status)) {
        printf("bar-access: copy ended by %s", signame(WTERMSIG(status)));
    } else {
        printf("bar-access: copy ended with status %d", WEXITSTATUS(status));
    }
    printf(" after %lu copies, device %s\n", report->copies,
           access(dev, F_OK) == 0 ? "present" : "gone");
    munmap(p, len);
}

/*
 * Bandwidth: MB/s of writes and reads through resourceN (Device-nGnRE)
 * and resourceN_wc (Normal-NC), within the scratch range only.
 */
enum bw_method { BW_STR8, BW_STP16, BW_MEMCPY, BW_BURST64, BW_METHODS };

static const char *const bw_method_name[BW_METHODS] = {
    "str8", "stp16", "memcpy", "burst64",
};

static uint8_t bw_ram[1 << 20] __attribute__((aligned(64)));

/* Write (or read) @len bytes at @p, @len a multiple of 64, by @method. */
static void bw_pass(volatile uint8_t *p, size_t len, enum bw_method method,
                    int write)
{
    switch (method) {
    case BW_STR8:
        for (size_t i = 0; i < len; i += 8) {
            if (write) {
                asm volatile("str %1, [%0]" : : "r"(p + i), "r"(i) : "memory");
            } else {
                uint64_t v;
                asm volatile("ldr %0, [%1]" : "=r"(v) : "r"(p + i) : "memory");
            }
        }
        break;
    case BW_STP16:
        for (size_t i = 0; i < len; i += 16) {
            if (write) {
                asm volatile("stp %1, %1, [%0]" : : "r"(p + i), "r"(i)
                             : "memory");
            } else {
                uint64_t a, b;
                asm volatile("ldp %0, %1, [%2]" : "=r"(a), "=r"(b)
                             : "r"(p + i) : "memory");
            }
        }
        break;
    case BW_MEMCPY:
        if (write) {
            memcpy((void *)p, bw_ram, len);
        } else {
            memcpy(bw_ram, (const void *)p, len);
        }
        break;
    case BW_BURST64:
        /* 64 bytes a burst: two STP (LDP) of Q register pairs. */
        if (write) {
            asm volatile("ldp q0, q1, [%2]\n\t"
                         "ldp q2, q3, [%2, #32]\n"
                         "1:\n\t"
                         "stp q0, q1, [%0]\n\t"
                         "stp q2, q3, [%0, #32]\n\t"
                         "add %0, %0, #64\n\t"
                         "subs %1, %1, #64\n\t"
                         "b.ne 1b"
                         : "+r"(p), "+r"(len) : "r"(bw_ram)
                         : "v0", "v1", "v2", "v3", "cc", "memory");
        } else {
            for (size_t i = 0; i < len; i += 64) {
                asm volatile("ldp q0, q1, [%0]\n\t"
                             "ldp q2, q3, [%0, #32]"
                             : : "r"(p + i) : "v0", "v1", "v2", "v3",
                                 "memory");
            }
        }
        break;
    default:
        break;
    }
}

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* MB/s of passes over @len bytes at @p, for at least 20 ms. */
static double bw_measure(volatile uint8_t *p, size_t len,
                         enum bw_method method, int write)
{
    double start = now(), elapsed;
    size_t bytes = 0;

    do {
        bw_pass(p, len, method, write);
        bytes += len;
        elapsed = now() - start;
    } while (elapsed < 0.02);
    return bytes / elapsed / 1e6;
}

/* Whether this is a QEMU machine: its figures say nothing of hardware. */
static int on_qemu(void)
{
    static const char *const files[] = {
        "/sys/firmware/devicetree/base/compatible",
        "/sys/class/dmi/id/sys_vendor",
    };
    char buf[256];

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        FILE *f = fopen(files[i], "r");
        size_t n;

        if (!f) {
            continue;
        }
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        for (size_t j = 0; j < n; j++) {
            buf[j] = buf[j] ? buf[j] : ' ';
        }
        if (strstr(buf, "linux,dummy-virt") || strstr(buf, "QEMU")) {
            return 1;
        }
    }
    return 0;
}

/*
 * The table: for each size and method, write and read MB/s through the
 * Device mapping, then the Normal-NC one, and the ratio WC/Device.
 * Touches the BAR only in [scratch_off, scratch_off + scratch_len).
 */
static void bandwidth(const char *dev, int bar_index, size_t scratch_off,
                      size_t scratch_len)
{
    volatile uint8_t *map[2];
    size_t len[2];
    char file[2][32];

    snprintf(file[0], sizeof(file[0]), "resource%d", bar_index);
    snprintf(file[1], sizeof(file[1]), "resource%d_wc", bar_index);
    for (int m = 0; m < 2; m++) {
        map[m] = map_bar(dev, file[m], &len[m]);
        if (!map[m]) {
            return;
        }
        if (scratch_off % 64 || scratch_len < 64 ||
            scratch_off + scratch_len > len[m]) {
            printf("bar-access: scratch range 0x%zx+0x%zx is not 64-byte "
                   "aligned inside the BAR (0x%zx bytes)\n", scratch_off,
                   scratch_len, len[m]);
            return;
        }
    }
    /* What the writes store: not zeros, so that they can be seen. */
    fill_pattern(bw_ram, sizeof(bw_ram), 0x5a);
    if (on_qemu()) {
        printf("bar-access: bw note: this is a QEMU machine; under TCG these "
               "figures say nothing about hardware\n");
    }
    printf("bar-access: bw %-8s %-8s %10s %10s %6s %10s %10s %6s\n",
           "size", "method", "dev-write", "wc-write", "ratio",
           "dev-read", "wc-read", "ratio");
    for (size_t size = 64; size <= (1 << 20) && size <= scratch_len;
         size *= 4) {
        for (int method = 0; method < BW_METHODS; method++) {
            double mbps[2][2];

            for (int m = 0; m < 2; m++) {
                for (int write = 1; write >= 0; write--) {
                    mbps[m][write] = bw_measure(map[m] + scratch_off, size,
                                                method, write);
                }
            }
            printf("bar-access: bw %-8zu %-8s %10.1f %10.1f %6.2f "
                   "%10.1f %10.1f %6.2f\n", size, bw_method_name[method],
                   mbps[0][1], mbps[1][1], mbps[1][1] / mbps[0][1],
                   mbps[0][0], mbps[1][0], mbps[1][0] / mbps[0][0]);
        }
    }
    for (int m = 0; m < 2; m++) {
        munmap((void *)map[m], len[m]);
    }
}

int main(void)
{
    const char *id = getenv("BAR_ACCESS_DEVICE");
    const char *bar_env = getenv("BAR_ACCESS_BAR");
    const char *mode = getenv("BAR_ACCESS_MODE");
    const char *scratch = getenv("BAR_ACCESS_SCRATCH");
    int bar_index = bar_env ? atoi(bar_env) : 2;
    int as_init = getpid() == 1;
    int bw = mode && !strcmp(mode, "bandwidth");
    int copy = mode && !strcmp(mode, "copy-until-removed");
    unsigned vendor, device;
    char dev[512], file[32], path[600], *end;
    size_t scratch_off = 0, scratch_len = 0;
    FILE *enable;

    if (as_init) {
        /* The initramfs holds only /init: bring up the console and sysfs. */
        mkdir("/dev", 0755);
        if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) == 0) {
            int console = open("/dev/console", O_RDWR);

            if (console >= 0) {
                dup2(console, 0);
                dup2(console, 1);
                dup2(console, 2);
            }
        }
        mkdir("/sys", 0755);
        mount("sysfs", "/sys", "sysfs", 0, NULL);
    }
    report = mmap(NULL, sizeof(*report), PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (scratch) {
        scratch_off = strtoul(scratch, &end, 0);
        scratch_len = *end == '+' ? strtoul(end + 1, &end, 0) : 0;
    }

    if (as_init) {
        printf("bar-access: ram-memcpy %u\n", ram_memcpy_mbps());
        printf("bar-access: DC ZVA block size %u bytes\n", zva_block_size());
    }
    if (!id || sscanf(id, "%x:%x", &vendor, &device) != 2) {
        printf("bar-access: set BAR_ACCESS_DEVICE=vendor:device\n");
    } else if (!find_device(vendor, device, dev, sizeof(dev))) {
        printf("bar-access: no PCI device %04x:%04x\n", vendor, device);
    } else if (!as_init && !bw) {
        /* The cases write all over the BAR and fault on purpose. */
        printf("bar-access: outside /init only BAR_ACCESS_MODE=bandwidth "
               "runs, within BAR_ACCESS_SCRATCH=offset+length\n");
    } else if (bw && !scratch_len) {
        printf("bar-access: set BAR_ACCESS_SCRATCH=offset+length, the part "
               "of the BAR the bandwidth mode may overwrite\n");
    } else {
        printf("bar-access: device %s BAR %d\n", strrchr(dev, '/') + 1,
               bar_index);
        if (as_init) {
            snprintf(path, sizeof(path), "%s/enable", dev);
            enable = fopen(path, "w");
            if (enable) {
                fputs("1", enable);
                fclose(enable);
            }
        }
        if (bw) {
            bandwidth(dev, bar_index, scratch_off, scratch_len);
        } else if (copy) {
            copy_until_removed(dev, bar_index);
        } else {
            snprintf(file, sizeof(file), "resource%d", bar_index);
            test_mapping(dev, file);
            snprintf(file, sizeof(file), "resource%d_wc", bar_index);
            test_mapping(dev, file);
        }
    }
    printf("bar-access: done\n");
    fflush(stdout);
    if (as_init) {
        reboot(RB_POWER_OFF);
    }
    return 0;
}
