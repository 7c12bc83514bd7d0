// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO_DEVICE_FEATURE_REGION_MEMATTR: the memory attribute of a BAR's
 * mmap(), set before the BAR is first mapped and read back.
 *
 * The host mapping tests (arm64) store 8 bytes at an unaligned address of
 * a BAR mapped with each attribute, in a scratch range of the BAR that the
 * caller names, as a userspace driver would:
 *
 *   VFIO_MEMATTR_SCRATCH=<bar>:<offset>+<length>
 *
 * e.g. VFIO_MEMATTR_SCRATCH=2:0x40000+0x10000.  They write nothing outside
 * that range, and skip without it.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>

#include <linux/vfio.h>

#include <libvfio.h>

#include "kselftest_harness.h"

static const char *device_bdf;

/*
 * What SET of @memattr returns: x86's PAT keeps a BAR's uncached memory
 * type, so WC would be uncached, and only KVM/arm64 tells DEVICE from NC.
 */
static int memattr_set_result(u32 memattr)
{
#ifdef __x86_64__
	if (memattr == VFIO_REGION_MEMATTR_WC)
		return -EOPNOTSUPP;
#endif
#ifndef __aarch64__
	if (memattr == VFIO_REGION_MEMATTR_DEVICE)
		return -EOPNOTSUPP;
#endif
	return 0;
}

static int memattr_probe(struct vfio_pci_device *device)
{
	return __vfio_pci_region_memattr(device, VFIO_DEVICE_FEATURE_PROBE |
					 VFIO_DEVICE_FEATURE_GET |
					 VFIO_DEVICE_FEATURE_SET, 0, NULL);
}

static int memattr_get(struct vfio_pci_device *device, u32 index, u32 *memattr)
{
	return __vfio_pci_region_memattr(device, VFIO_DEVICE_FEATURE_GET, index,
					 memattr);
}

static int memattr_set(struct vfio_pci_device *device, u32 index, u32 memattr)
{
	return __vfio_pci_region_memattr(device, VFIO_DEVICE_FEATURE_SET, index,
					 &memattr);
}

static bool bar_mmappable(struct vfio_pci_device *device, int bar)
{
	return device->bars[bar].info.flags & VFIO_REGION_INFO_FLAG_MMAP;
}

/* The first BAR that can be mmap()ed, or -1. */
static int first_mmappable_bar(struct vfio_pci_device *device)
{
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		if (bar_mmappable(device, i))
			return i;
	}
	return -1;
}

/* Why the feature cannot be tested on the device, or NULL. */
static const char *memattr_untestable(struct vfio_pci_device *device, int bar)
{
	if (memattr_probe(device))
		return "VFIO_DEVICE_FEATURE_REGION_MEMATTR not supported";
	if (bar < 0)
		return "the device has no BAR that can be mmap()ed";
	return NULL;
}

/* The device is opened with no BAR mapped: no attribute is fixed yet. */
FIXTURE(vfio_pci_memattr_test) {
	struct iommu *iommu;
	struct vfio_pci_device *device;
	int bar;
	const char *untestable;	/* why the feature cannot be tested */
};

FIXTURE_SETUP(vfio_pci_memattr_test)
{
	self->iommu = iommu_init(default_iommu_mode);
	self->device = vfio_pci_device_init_unmapped(device_bdf, self->iommu);
	self->bar = first_mmappable_bar(self->device);
	self->untestable = memattr_untestable(self->device, self->bar);
}

FIXTURE_TEARDOWN(vfio_pci_memattr_test)
{
	vfio_pci_device_cleanup(self->device);
	iommu_cleanup(self->iommu);
}

/* Only NC can be set where WC or DEVICE would change nothing. */
static bool only_nc_settable(void)
{
	return memattr_set_result(VFIO_REGION_MEMATTR_WC) ||
	       memattr_set_result(VFIO_REGION_MEMATTR_DEVICE);
}

TEST_F(vfio_pci_memattr_test, probe)
{
	ASSERT_EQ(0, memattr_probe(self->device));
}

TEST_F(vfio_pci_memattr_test, default_is_nc)
{
	u32 memattr;
	int i;

	if (self->untestable)
		SKIP(return, "%s\n", self->untestable);

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		if (!bar_mmappable(self->device, i))
			continue;
		memattr = -1;
		ASSERT_EQ(0, memattr_get(self->device, i, &memattr));
		ASSERT_EQ(VFIO_REGION_MEMATTR_NC, memattr);
	}
}

TEST_F(vfio_pci_memattr_test, set_then_get)
{
	static const u32 values[] = {
		VFIO_REGION_MEMATTR_WC, VFIO_REGION_MEMATTR_DEVICE,
		VFIO_REGION_MEMATTR_NC,
	};
	u32 memattr;
	int i;

	if (self->untestable)
		SKIP(return, "%s\n", self->untestable);

	for (i = 0; i < ARRAY_SIZE(values); i++) {
		int expected = memattr_set_result(values[i]);

		ASSERT_EQ(expected, memattr_set(self->device, self->bar,
						values[i]));
		if (expected)
			continue;
		memattr = -1;
		ASSERT_EQ(0, memattr_get(self->device, self->bar, &memattr));
		ASSERT_EQ(values[i], memattr);
	}
}

/* ROM, config space, VGA and what follows are not BARs. */
TEST_F(vfio_pci_memattr_test, einval_not_a_bar)
{
	static const u32 indexes[] = {
		VFIO_PCI_ROM_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX,
		VFIO_PCI_VGA_REGION_INDEX, VFIO_PCI_NUM_REGIONS, 0xffffffff,
	};
	u32 memattr;
	int i;

	if (self->untestable)
		SKIP(return, "%s\n", self->untestable);

	for (i = 0; i < ARRAY_SIZE(indexes); i++) {
		ASSERT_EQ(-EINVAL, memattr_get(self->device, indexes[i], &memattr));
		ASSERT_EQ(-EINVAL, memattr_set(self->device, indexes[i],
					       VFIO_REGION_MEMATTR_NC));
	}
}

TEST_F(vfio_pci_memattr_test, einval_not_mmappable)
{
	u32 memattr;
	int i, tested = 0;

	if (self->untestable)
		SKIP(return, "%s\n", self->untestable);

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		if (bar_mmappable(self->device, i))
			continue;
		printf("BAR %d (size %#llx) cannot be mmap()ed\n", i,
		       self->device->bars[i].info.size);
		ASSERT_EQ(-EINVAL, memattr_get(self->device, i, &memattr));
		ASSERT_EQ(-EINVAL, memattr_set(self->device, i,
					       VFIO_REGION_MEMATTR_NC));
		tested++;
	}
	if (!tested)
		SKIP(return, "every BAR of the device can be mmap()ed\n");
}

TEST_F(vfio_pci_memattr_test, einval_unknown_value)
{
	u32 memattr;

	if (self->untestable)
		SKIP(return, "%s\n", self->untestable);

	ASSERT_EQ(-EINVAL, memattr_set(self->device, self->bar, 3));
	ASSERT_EQ(-EINVAL, memattr_set(self->device, self->bar, 0xffffffff));
	ASSERT_EQ(0, memattr_get(self->device, self->bar, &memattr));
	ASSERT_EQ(VFIO_REGION_MEMATTR_NC, memattr);
}

TEST_F(vfio_pci_memattr_test, ebusy_after_mmap)
{
	u32 memattr;

	if (self->untestable)
		SKIP(return, "%s\n", self->untestable);

	if (only_nc_settable())
		SKIP(return, "only NC can be set on this architecture\n");

	ASSERT_EQ(0, memattr_set(self->device, self->bar, VFIO_REGION_MEMATTR_WC));
	vfio_pci_bar_map(self->device, self->bar);

	ASSERT_EQ(-EBUSY, memattr_set(self->device, self->bar,
				      VFIO_REGION_MEMATTR_DEVICE));
	/* Setting the attribute the BAR has is no change, and succeeds. */
	ASSERT_EQ(0, memattr_set(self->device, self->bar,
				 VFIO_REGION_MEMATTR_WC));
	ASSERT_EQ(0, memattr_get(self->device, self->bar, &memattr));
	ASSERT_EQ(VFIO_REGION_MEMATTR_WC, memattr);

	/* Fixed until the device is closed, not until the last munmap(). */
	vfio_pci_bar_unmap(self->device, self->bar);
	ASSERT_EQ(-EBUSY, memattr_set(self->device, self->bar,
				      VFIO_REGION_MEMATTR_NC));
	ASSERT_EQ(0, memattr_get(self->device, self->bar, &memattr));
	ASSERT_EQ(VFIO_REGION_MEMATTR_WC, memattr);
}

TEST_F(vfio_pci_memattr_test, reopen_is_nc)
{
	u32 memattr;

	if (self->untestable)
		SKIP(return, "%s\n", self->untestable);

	if (only_nc_settable())
		SKIP(return, "only NC can be set on this architecture\n");

	ASSERT_EQ(0, memattr_set(self->device, self->bar,
				 VFIO_REGION_MEMATTR_DEVICE));
	vfio_pci_bar_map(self->device, self->bar);
	vfio_pci_device_cleanup(self->device);

	self->device = vfio_pci_device_init_unmapped(device_bdf, self->iommu);
	ASSERT_EQ(0, memattr_get(self->device, self->bar, &memattr));
	ASSERT_EQ(VFIO_REGION_MEMATTR_NC, memattr);
	ASSERT_EQ(0, memattr_set(self->device, self->bar, VFIO_REGION_MEMATTR_WC));
}

#ifdef __aarch64__
/* The scratch range of VFIO_MEMATTR_SCRATCH. */
struct scratch {
	int bar;
	u64 offset;
	u64 length;
};

static const char *get_scratch(struct vfio_pci_device *device,
			       struct scratch *s)
{
	const char *env = getenv("VFIO_MEMATTR_SCRATCH");
	int end;

	if (!env)
		return "no VFIO_MEMATTR_SCRATCH=<bar>:<offset>+<length> to write";
	if (sscanf(env, "%d:%li+%li%n", &s->bar, &s->offset, &s->length,
		   &end) != 3 || env[end] || s->bar < 0 ||
	    s->bar >= PCI_STD_NUM_BARS)
		return "VFIO_MEMATTR_SCRATCH is not <bar>:<offset>+<length>";
	if (!bar_mmappable(device, s->bar))
		return "the scratch range's BAR cannot be mmap()ed";
	if (s->length < 16 || s->offset + s->length < s->offset ||
	    s->offset + s->length > device->bars[s->bar].info.size)
		return "the scratch range is under 16 bytes or not in its BAR";
	return NULL;
}

static sigjmp_buf sigbus_jmp;
static siginfo_t sigbus_info;

static void sigbus_handler(int sig, siginfo_t *info, void *ucontext)
{
	sigbus_info = *info;
	siglongjmp(sigbus_jmp, 1);
}

/* Byte accesses are never unaligned, whatever the mapping's type. */
static void write_bytes(u8 *p, u8 value, int n)
{
	int i;

	for (i = 0; i < n; i++)
		WRITE_ONCE(p[i], value + i);
}

static bool bytes_are(u8 *p, u8 value, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (READ_ONCE(p[i]) != (u8)(value + i))
			return false;
	}
	return true;
}

FIXTURE(vfio_pci_memattr_host) {
	struct iommu *iommu;
	struct vfio_pci_device *device;
};

FIXTURE_VARIANT(vfio_pci_memattr_host) {
	bool set;		/* SET memattr, or leave the default */
	u32 memattr;
	bool faults;		/* the host maps it Device-nGnRE */
};

FIXTURE_VARIANT_ADD(vfio_pci_memattr_host, default_nc) {
	.set = false, .memattr = VFIO_REGION_MEMATTR_NC, .faults = true,
};

FIXTURE_VARIANT_ADD(vfio_pci_memattr_host, nc) {
	.set = true, .memattr = VFIO_REGION_MEMATTR_NC, .faults = true,
};

FIXTURE_VARIANT_ADD(vfio_pci_memattr_host, wc) {
	.set = true, .memattr = VFIO_REGION_MEMATTR_WC, .faults = false,
};

FIXTURE_VARIANT_ADD(vfio_pci_memattr_host, device) {
	.set = true, .memattr = VFIO_REGION_MEMATTR_DEVICE, .faults = true,
};

FIXTURE_SETUP(vfio_pci_memattr_host)
{
	self->iommu = iommu_init(default_iommu_mode);
	self->device = vfio_pci_device_init_unmapped(device_bdf, self->iommu);
}

FIXTURE_TEARDOWN(vfio_pci_memattr_host)
{
	vfio_pci_device_cleanup(self->device);
	iommu_cleanup(self->iommu);
}

/*
 * An unaligned 8-byte store: Device memory (NC and DEVICE map the BAR
 * uncached, Device-nGnRE on arm64) takes an Alignment fault, SIGBUS with
 * BUS_ADRALN at the store's address, and nothing is written; Normal-NC
 * (WC) takes the store.
 */
TEST_F(vfio_pci_memattr_host, unaligned_store)
{
	struct sigaction sa = {
		.sa_sigaction = sigbus_handler,
		.sa_flags = SA_SIGINFO,
	};
	u64 value = 0x8877665544332211ULL;
	const char *why;
	u8 *p;
	struct scratch s;
	u32 memattr;
	int i;

	why = get_scratch(self->device, &s);
	if (why)
		SKIP(return, "%s\n", why);
	if (variant->set) {
		if (memattr_probe(self->device))
			SKIP(return, "VFIO_DEVICE_FEATURE_REGION_MEMATTR not supported\n");
		ASSERT_EQ(0, memattr_set(self->device, s.bar, variant->memattr));
	}

	vfio_pci_bar_map(self->device, s.bar);
	if (!memattr_probe(self->device)) {
		ASSERT_EQ(0, memattr_get(self->device, s.bar, &memattr));
		ASSERT_EQ(variant->memattr, memattr);
	}
	p = (u8 *)self->device->bars[s.bar].vaddr + s.offset;
	write_bytes(p, 0xa0, 16);

	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	memset(&sigbus_info, 0, sizeof(sigbus_info));
	if (!sigsetjmp(sigbus_jmp, 1))
		asm volatile("str %0, [%1]" : : "r"(value), "r"(p + 1) : "memory");
	signal(SIGBUS, SIG_DFL);

	if (variant->faults) {
		ASSERT_EQ(SIGBUS, sigbus_info.si_signo);
		ASSERT_EQ(BUS_ADRALN, sigbus_info.si_code);
		ASSERT_EQ((void *)(p + 1), sigbus_info.si_addr);
		ASSERT_TRUE(bytes_are(p, 0xa0, 16));
	} else {
		ASSERT_EQ(0, sigbus_info.si_signo);
		ASSERT_TRUE(bytes_are(p, 0xa0, 1));
		for (i = 0; i < 8; i++)
			ASSERT_EQ((u8)(value >> (8 * i)), READ_ONCE(p[1 + i]));
		ASSERT_TRUE(bytes_are(p + 9, 0xa9, 7));
	}
}
#endif /* __aarch64__ */

int main(int argc, char *argv[])
{
	device_bdf = vfio_selftests_get_bdf(&argc, argv);
	return test_harness_run(argc, argv);
}
