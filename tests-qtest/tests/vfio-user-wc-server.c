/*
 * vfio-user-wc-server: a vfio-user PCI device for the barN-wc tests
 *
 * A vfio-user server, on libvfio-user, with the BAR shapes the tests of
 * vfio-pci's barN-wc properties need:
 *
 *   BAR0  64 KiB 32-bit memory, not prefetchable, mmappable; with
 *                --bar0-mmap-past-file, the server offers for mmap an area
 *                of its file that lies past the file's end
 *   BAR1  256 B  I/O, trapped (served by a callback); with --intx, the
 *                device has INTx pin A, and a write to BAR1 offset 0
 *                raises it (the client then traps BAR accesses until the
 *                guest's EOI)
 *   BAR2  1 MiB  32-bit memory, prefetchable, mmappable; with --msix, it
 *                also holds an MSI-X table (0x1000) and PBA (0x1800), which
 *                QEMU traps, leaving a hole in the mmap; with
 *                --bar2-unmappable, the server offers BAR2 for mmap but
 *                passes a file that cannot be mmapped (a pipe), so the
 *                client's mmap fails and it must trap every access; with
 *                --bar2-size=SIZE, the server reports SIZE (at most 1 MiB)
 *                as BAR2's size, a power of two or not, as a faulty
 *                server could; with --bar2-mmap-size=SIZE, only BAR2's
 *                first SIZE bytes are mmappable, and QEMU traps the rest;
 *                with --bar2-io-space, its config space says BAR2 is I/O
 *                while the region stays memory
 *   BAR3         not implemented (size 0); with --bar3-sub-page, 256 B
 *                32-bit memory, prefetchable, mmappable; with
 *                --bar3-config-only, config space says BAR3 is
 *                prefetchable memory while there is no region
 *   BAR4..5      not implemented; with --bar4-mem64, BAR4 is 64 KiB 64-bit
 *                prefetchable memory, mmappable, and BAR5 its upper half
 *   ROM          not implemented; with --rom-readback=VALUE, the ROM BAR
 *                register reads back VALUE after a write of all ones, as
 *                a faulty or hostile server's could (the server then
 *                serves all of config space itself)
 *
 * The memory BARs live in one memfd ("vfio-user-wc-bars"): BAR2 at
 * offset 0, BAR0 at 1 MiB, BAR4 at 1 MiB + 64 KiB, BAR3 at 1 MiB +
 * 128 KiB.  A test reads what a client wrote through /proc/<pid>/fd/<n>.
 * The server serves one client at a time, waits for the next after a
 * disconnect, and exits with 0 on SIGTERM or SIGINT, removing its socket.
 *
 * usage: vfio-user-wc-server [--msix] [--bar2-unmappable] [--bar2-size=SIZE]
 *                            [--bar2-mmap-size=SIZE] [--bar2-io-space]
 *                            [--bar3-sub-page]
 *                            [--bar4-mem64] [--intx] [--rom-readback=VALUE]
 *                            [--bar0-mmap-past-file] [--bar3-config-only]
 *                            SOCKET
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include <getopt.h>
#include <sys/uio.h>
#include "qemu/bswap.h"
#include "qemu/cutils.h"

#include "libvfio-user.h"
#include "pci_caps/msix.h"

#define BAR0_SIZE   0x10000
#define BAR1_SIZE   0x100
#define BAR2_SIZE   0x100000
#define BAR3_SIZE   0x100
#define BAR4_SIZE   0x10000
/* Where each memory BAR starts in the memfd: page aligned, for mmap. */
#define BAR2_OFFSET 0
#define BAR0_OFFSET BAR2_SIZE
#define BAR4_OFFSET (BAR0_OFFSET + BAR0_SIZE)
#define BAR3_OFFSET (BAR4_OFFSET + BAR4_SIZE)
#define BARS_SIZE   (BAR3_OFFSET + 0x1000)
#define MSIX_VECTORS 4
#define MSIX_TABLE  0x1000
#define MSIX_PBA    0x1800
/* QEMU's own device IDs under Red Hat's vendor ID: docs/specs/pci-ids.rst */
#define TEST_VENDOR_ID 0x1b36
#define TEST_DEVICE_ID 0x0015

static volatile sig_atomic_t stopping;
static int bars_fd;
static bool intx;
static uint8_t io_bar[BAR1_SIZE];
static uint32_t rom_readback;
static bool rom_sizing;

static void on_signal(int sig)
{
    stopping = 1;
}

static void log_cb(vfu_ctx_t *ctx, int level, const char *msg)
{
    fprintf(stderr, "vfio-user-wc-server: %s\n", msg);
}

/* Trapped accesses to a memfd-backed BAR: read or write the memfd. */
static ssize_t access_memfd(off_t base, char *buf, size_t count,
                            loff_t offset, bool is_write)
{
    ssize_t n = is_write ? pwrite(bars_fd, buf, count, base + offset)
                         : pread(bars_fd, buf, count, base + offset);

    return n == (ssize_t)count ? n : -1;
}

static ssize_t bar0_access(vfu_ctx_t *ctx, char *buf, size_t count,
                           loff_t offset, bool is_write)
{
    return access_memfd(BAR0_OFFSET, buf, count, offset, is_write);
}

static ssize_t bar2_access(vfu_ctx_t *ctx, char *buf, size_t count,
                           loff_t offset, bool is_write)
{
    return access_memfd(BAR2_OFFSET, buf, count, offset, is_write);
}

static ssize_t bar3_access(vfu_ctx_t *ctx, char *buf, size_t count,
                           loff_t offset, bool is_write)
{
    return access_memfd(BAR3_OFFSET, buf, count, offset, is_write);
}

static ssize_t bar4_access(vfu_ctx_t *ctx, char *buf, size_t count,
                           loff_t offset, bool is_write)
{
    return access_memfd(BAR4_OFFSET, buf, count, offset, is_write);
}

static ssize_t bar1_access(vfu_ctx_t *ctx, char *buf, size_t count,
                           loff_t offset, bool is_write)
{
    if (offset < 0 || offset + count > sizeof(io_bar)) {
        errno = EINVAL;
        return -1;
    }
    if (is_write) {
        memcpy(io_bar + offset, buf, count);
        if (intx && offset == 0 && vfu_irq_trigger(ctx, 0) < 0) {
            return -1;
        }
    } else {
        memcpy(buf, io_bar + offset, count);
    }
    return count;
}

/*
 * With --rom-readback, all of config space: what the client writes is
 * what it reads, except the ROM BAR register, which reads back
 * rom_readback after a write of all ones (PCI_ROM_ADDRESS_MASK) and 0
 * otherwise.
 */
static ssize_t config_access(vfu_ctx_t *ctx, char *buf, size_t count,
                             loff_t offset, bool is_write)
{
    char *config = (char *)vfu_pci_get_config_space(ctx);
    uint32_t rom;

    if (offset < 0 || offset + count > PCI_CFG_SPACE_SIZE) {
        errno = EINVAL;
        return -1;
    }
    if (offset == PCI_ROM_ADDRESS && count == sizeof(rom)) {
        if (is_write) {
            memcpy(&rom, buf, sizeof(rom));
            rom_sizing = le32_to_cpu(rom) == (uint32_t)PCI_ROM_ADDRESS_MASK;
        } else {
            rom = cpu_to_le32(rom_sizing ? rom_readback : 0);
            memcpy(buf, &rom, sizeof(rom));
        }
        return count;
    }
    if (is_write) {
        memcpy(config + offset, buf, count);
    } else {
        memcpy(buf, config + offset, count);
    }
    return count;
}

static void dma_register(vfu_ctx_t *ctx, vfu_dma_info_t *info)
{
}

static void dma_unregister(vfu_ctx_t *ctx, vfu_dma_info_t *info)
{
}

static void die(const char *what)
{
    fprintf(stderr, "vfio-user-wc-server: %s: %s\n", what, strerror(errno));
    exit(EXIT_FAILURE);
}

static void usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [--msix] [--bar2-unmappable] [--bar2-size=SIZE] "
            "[--bar2-mmap-size=SIZE] [--bar2-io-space] [--bar3-sub-page] [--bar4-mem64] [--intx] "
            "[--rom-readback=VALUE] [--bar0-mmap-past-file] "
            "[--bar3-config-only] SOCKET\n", argv0);
    exit(EXIT_FAILURE);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "msix", no_argument, NULL, 'm' },
        { "bar2-unmappable", no_argument, NULL, 'u' },
        { "bar2-size", required_argument, NULL, 's' },
        { "bar2-mmap-size", required_argument, NULL, 'M' },
        { "bar2-io-space", no_argument, NULL, 'o' },
        { "bar3-sub-page", no_argument, NULL, '3' },
        { "bar4-mem64", no_argument, NULL, '4' },
        { "intx", no_argument, NULL, 'i' },
        { "rom-readback", required_argument, NULL, 'r' },
        { "bar0-mmap-past-file", no_argument, NULL, 'P' },
        { "bar3-config-only", no_argument, NULL, 'C' },
        { NULL },
    };
    struct sigaction sa = { .sa_handler = on_signal };   /* no SA_RESTART */
    struct iovec bar0_mmap = { .iov_base = 0, .iov_len = BAR0_SIZE };
    struct iovec bar2_mmap = { .iov_base = 0, .iov_len = BAR2_SIZE };
    struct iovec bar3_mmap = { .iov_base = 0, .iov_len = BAR3_SIZE };
    struct iovec bar4_mmap = { .iov_base = 0, .iov_len = BAR4_SIZE };
    bool msix = false, bar2_unmappable = false, bar2_io = false;
    bool bar3 = false, bar4 = false, rom = false, bar3_config_only = false;
    off_t bar0_mmap_offset = BAR0_OFFSET;
    unsigned long value;
    unsigned long bar2_size = BAR2_SIZE;
    const char *socket_path;
    int bar2_mmap_fd, opt;
    vfu_ctx_t *ctx;
    int ret;

    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'm':
            msix = true;
            break;
        case 'u':
            bar2_unmappable = true;
            break;
        case 's':
            if (qemu_strtoul(optarg, NULL, 0, &bar2_size) < 0 ||
                !bar2_size || bar2_size > BAR2_SIZE) {
                usage(argv[0]);
            }
            bar2_mmap.iov_len = bar2_size;
            break;
        case 'M':
            if (qemu_strtoul(optarg, NULL, 0, &value) < 0 ||
                !value || value > BAR2_SIZE) {
                usage(argv[0]);
            }
            bar2_mmap.iov_len = value;
            break;
        case 'o':
            bar2_io = true;
            break;
        case '3':
            bar3 = true;
            break;
        case '4':
            bar4 = true;
            break;
        case 'i':
            intx = true;
            break;
        case 'P':
            bar0_mmap_offset = BARS_SIZE;
            break;
        case 'C':
            bar3_config_only = true;
            break;
        case 'r':
            if (qemu_strtoul(optarg, NULL, 0, &value) < 0 ||
                value > UINT32_MAX) {
                usage(argv[0]);
            }
            rom_readback = value;
            rom = true;
            break;
        default:
            usage(argv[0]);
        }
    }
    if (optind != argc - 1) {
        usage(argv[0]);
    }
    socket_path = argv[optind];
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    bars_fd = memfd_create("vfio-user-wc-bars", 0);
    if (bars_fd < 0 || ftruncate(bars_fd, BARS_SIZE) < 0) {
        die("memfd");
    }

    bar2_mmap_fd = bars_fd;
    if (bar2_unmappable) {
        int pipe_fds[2];

        if (pipe(pipe_fds) < 0) {
            die("pipe");
        }
        bar2_mmap_fd = pipe_fds[0];
    }

    ctx = vfu_create_ctx(VFU_TRANS_SOCK, socket_path, 0, NULL,
                         VFU_DEV_TYPE_PCI);
    if (!ctx) {
        die("vfu_create_ctx");
    }
    if (vfu_setup_log(ctx, log_cb, LOG_ERR) < 0 ||
        vfu_pci_init(ctx, VFU_PCI_TYPE_CONVENTIONAL, PCI_HEADER_TYPE_NORMAL,
                     0) < 0) {
        die("vfu_pci_init");
    }
    vfu_pci_set_id(ctx, TEST_VENDOR_ID, TEST_DEVICE_ID, 0x1af4, 0x1100);
    vfu_pci_set_class(ctx, 0x05, 0x00, 0x00);   /* memory controller, RAM */

    if (vfu_setup_region(ctx, VFU_PCI_DEV_BAR0_REGION_IDX, BAR0_SIZE,
                         bar0_access, VFU_REGION_FLAG_RW | VFU_REGION_FLAG_MEM,
                         &bar0_mmap, 1, bars_fd, bar0_mmap_offset) < 0 ||
        vfu_setup_region(ctx, VFU_PCI_DEV_BAR1_REGION_IDX, BAR1_SIZE,
                         bar1_access, VFU_REGION_FLAG_RW, NULL, 0, -1, 0) < 0 ||
        vfu_setup_region(ctx, VFU_PCI_DEV_BAR2_REGION_IDX, bar2_size,
                         bar2_access, VFU_REGION_FLAG_RW | VFU_REGION_FLAG_MEM,
                         &bar2_mmap, 1, bar2_mmap_fd, BAR2_OFFSET) < 0 ||
        (bar3 &&
         vfu_setup_region(ctx, VFU_PCI_DEV_BAR3_REGION_IDX, BAR3_SIZE,
                          bar3_access, VFU_REGION_FLAG_RW | VFU_REGION_FLAG_MEM,
                          &bar3_mmap, 1, bars_fd, BAR3_OFFSET) < 0) ||
        (bar4 &&
         vfu_setup_region(ctx, VFU_PCI_DEV_BAR4_REGION_IDX, BAR4_SIZE,
                          bar4_access, VFU_REGION_FLAG_RW | VFU_REGION_FLAG_MEM,
                          &bar4_mmap, 1, bars_fd, BAR4_OFFSET) < 0)) {
        die("vfu_setup_region");
    }
    if (rom &&
        vfu_setup_region(ctx, VFU_PCI_DEV_CFG_REGION_IDX, PCI_CFG_SPACE_SIZE,
                         config_access,
                         VFU_REGION_FLAG_RW | VFU_REGION_FLAG_ALWAYS_CB,
                         NULL, 0, -1, 0) < 0) {
        die("vfu_setup_region");
    }
    if (vfu_setup_device_dma(ctx, dma_register, dma_unregister) < 0) {
        die("vfu_setup_device_dma");
    }
    if (msix) {
        struct msixcap cap = {
            .hdr.id = PCI_CAP_ID_MSIX,
            .mxc.ts = MSIX_VECTORS - 1,
            .mtab = { .tbir = 2, .to = MSIX_TABLE >> 3 },
            .mpba = { .pbir = 2, .pbao = MSIX_PBA >> 3 },
        };

        if (vfu_setup_device_nr_irqs(ctx, VFU_DEV_MSIX_IRQ, MSIX_VECTORS) < 0 ||
            vfu_pci_add_capability(ctx, 0, 0, &cap) < 0) {
            die("MSI-X");
        }
    }
    if (intx && vfu_setup_device_nr_irqs(ctx, VFU_DEV_INTX_IRQ, 1) < 0) {
        die("INTx");
    }
    if (vfu_realize_ctx(ctx) < 0) {
        die("vfu_realize_ctx");
    }
    /*
     * This libvfio-user has no prefetchable region flag, but keeps the
     * low bits of a memory BAR from config space.
     */
    vfu_pci_get_config_space(ctx)->hdr.bars[2].mem.prefetchable = 1;
    if (bar2_io) {
        vfu_pci_get_config_space(ctx)->hdr.bars[2].raw =
            PCI_BASE_ADDRESS_SPACE_IO;
    }
    if (bar3) {
        vfu_pci_get_config_space(ctx)->hdr.bars[3].mem.prefetchable = 1;
    }
    if (bar3_config_only) {
        vfu_pci_get_config_space(ctx)->hdr.bars[3].raw =
            PCI_BASE_ADDRESS_SPACE_MEMORY | PCI_BASE_ADDRESS_MEM_PREFETCH;
    }
    if (bar4) {
        vfu_pci_get_config_space(ctx)->hdr.bars[4].mem.prefetchable = 1;
        vfu_pci_get_config_space(ctx)->hdr.bars[4].mem.locatable =
            PCI_BASE_ADDRESS_MEM_TYPE_64 >> 1;
    }
    if (intx) {
        vfu_pci_get_config_space(ctx)->hdr.intr.ipin = 1;
    }

    fprintf(stderr, "vfio-user-wc-server: listening on %s\n", socket_path);
    while (!stopping) {
        if (vfu_attach_ctx(ctx) < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("vfu_attach_ctx");
        }
        do {
            ret = vfu_run_ctx(ctx);
        } while (ret >= 0 && !stopping);
        if (!stopping && errno != ENOTCONN && errno != ESHUTDOWN &&
            errno != EINTR) {
            die("vfu_run_ctx");
        }
    }
    vfu_destroy_ctx(ctx);
    unlink(socket_path);
    return EXIT_SUCCESS;
}
