// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfnmap_memtype - the stage-2 memory type of a memslot's device memory
 *
 * Maps a memory BAR of a PCI device into a memslot, through vfio-pci (the
 * device must be bound to it), whose mmap() allows any uncached type
 * (VM_ALLOW_ANY_UNCACHED), or through the device's sysfs resource file,
 * whose mmap() does not.  The guest maps the BAR Normal-NC at stage 1, as
 * a driver's ioremap_wc() does, and runs one access a run: an aligned
 * store, unaligned stores and loads, unaligned STP and LDP, DC ZVA.  Under
 * a Normal-NC stage 2 each completes.  Under Device-nGnRE all but the
 * aligned store take an alignment fault at stage 2, which KVM cannot
 * handle: KVM_RUN fails with EFAULT, which is how a VMM's guest dies when
 * its write-combining mapping of a BAR meets a Device stage 2.  A handler
 * catches alignment faults at the guest's own stage 1, which would be
 * wrong here.
 *
 * Without KVM_CAP_PFNMAP_MEMTYPE_FLAGS, the test checks that the flags are
 * refused and that KVM maps the vfio-pci BAR Normal-NC by itself.
 *
 * Usage: pfnmap_memtype -d <domain:bus:device.function> [-b <bar>]
 */
#include <fcntl.h>
#include <libgen.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"

#define BAR_GPA		BIT_ULL(32)
#define BAR_GVA		BAR_GPA
#define BAR_PAGES	16
#define BAR_SLOT	1
#define FSC_ALIGNMENT	0x21
#define MEMTYPE_FLAGS	(KVM_MEM_PFNMAP_DEVICE | KVM_MEM_PFNMAP_NORMAL_NC)

enum access_case {
	STORE_ALIGNED,
	STORE_UNALIGNED,
	LOAD_UNALIGNED,
	STP_UNALIGNED,
	LDP_UNALIGNED,
	DC_ZVA,
	NR_CASES,
};

static const char *const case_names[NR_CASES] = {
	"aligned store", "unaligned store", "unaligned load",
	"unaligned STP", "unaligned LDP", "DC ZVA",
};

#define STORED_VALUE	0x1122334455667788ULL

/* Alignment faults the guest took itself (at stage 1). */
static u64 guest_alignment_faults;

static void alignment_fault_handler(struct ex_regs *regs)
{
	GUEST_ASSERT_EQ(read_sysreg(esr_el1) & ESR_ELx_FSC, FSC_ALIGNMENT);
	guest_alignment_faults++;
	regs->pc += 4;
}

static void guest_code(u64 access)
{
	u64 bar = BAR_GVA, a = 1, b = 2;

	switch (access) {
	case STORE_ALIGNED:
		WRITE_ONCE(*(u64 *)bar, STORED_VALUE);
		break;
	case STORE_UNALIGNED:
		asm volatile("str %0, [%1]" : : "r"(a), "r"(bar + 0x101) : "memory");
		break;
	case LOAD_UNALIGNED:
		asm volatile("ldr %0, [%1]" : "=r"(a) : "r"(bar + 0x201) : "memory");
		break;
	case STP_UNALIGNED:
		asm volatile("stp %0, %1, [%2]"
			     : : "r"(a), "r"(b), "r"(bar + 0x304) : "memory");
		break;
	case LDP_UNALIGNED:
		asm volatile("ldp %0, %1, [%2]"
			     : "=r"(a), "=r"(b) : "r"(bar + 0x404) : "memory");
		break;
	case DC_ZVA:
		asm volatile("dc zva, %0" : : "r"(bar + 0x1000) : "memory");
		break;
	}
	GUEST_DONE();
}

enum outcome {
	COMPLETED,		/* the access completed */
	GUEST_FAULT,		/* the guest took an alignment fault itself */
	STAGE2_FAULT,		/* KVM_RUN: EFAULT (a fault KVM cannot handle) */
	MEMORY_FAULT_EXIT,	/* KVM_RUN: EFAULT, KVM_EXIT_MEMORY_FAULT */
};

static const char *const outcome_names[] = {
	"completed", "a guest alignment fault", "KVM_RUN EFAULT",
	"a memory fault exit",
};

/* What the architecture gives the guest's Normal-NC mapping. */
static const enum outcome expected_normal_nc[NR_CASES];
static const enum outcome expected_device[NR_CASES] = {
	[STORE_UNALIGNED] = STAGE2_FAULT, [LOAD_UNALIGNED] = STAGE2_FAULT,
	[STP_UNALIGNED] = STAGE2_FAULT, [LDP_UNALIGNED] = STAGE2_FAULT,
	[DC_ZVA] = STAGE2_FAULT,
};

struct bar_mapping {
	const char *name;
	void *hva;
	size_t size;
};

static struct bar_mapping map_vfio_bar(const char *bdf, int bar)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct vfio_region_info region = { .argsz = sizeof(region) };
	char path[PATH_MAX], link[PATH_MAX];
	int container, group, device;
	ssize_t len;
	void *hva;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	len = readlink(path, link, sizeof(link) - 1);
	TEST_ASSERT(len > 0, "%s has no IOMMU group", bdf);
	link[len] = '\0';
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(link));

	container = open("/dev/vfio/vfio", O_RDWR);
	TEST_ASSERT(container >= 0, "open /dev/vfio/vfio");
	group = open(path, O_RDWR);
	TEST_ASSERT(group >= 0, "open %s (is %s bound to vfio-pci?)", path, bdf);
	TEST_ASSERT(!ioctl(group, VFIO_GROUP_GET_STATUS, &status) &&
		    (status.flags & VFIO_GROUP_FLAGS_VIABLE),
		    "IOMMU group %s is not viable", path);
	TEST_ASSERT(!ioctl(group, VFIO_GROUP_SET_CONTAINER, &container),
		    "VFIO_GROUP_SET_CONTAINER");
	TEST_ASSERT(!ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU),
		    "VFIO_SET_IOMMU");
	device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	TEST_ASSERT(device >= 0, "VFIO_GROUP_GET_DEVICE_FD %s", bdf);

	region.index = VFIO_PCI_BAR0_REGION_INDEX + bar;
	TEST_ASSERT(!ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &region),
		    "VFIO_DEVICE_GET_REGION_INFO BAR %d", bar);
	TEST_ASSERT(region.flags & VFIO_REGION_INFO_FLAG_MMAP,
		    "BAR %d of %s cannot be mmapped", bar, bdf);
	TEST_ASSERT(region.size >= BAR_PAGES * getpagesize(),
		    "BAR %d of %s is smaller than %d pages", bar, bdf, BAR_PAGES);
	hva = mmap(NULL, BAR_PAGES * getpagesize(), PROT_READ | PROT_WRITE,
		   MAP_SHARED, device, region.offset);
	TEST_ASSERT(hva != MAP_FAILED, "mmap BAR %d of %s through vfio", bar, bdf);
	return (struct bar_mapping){ "vfio-pci mmap", hva,
				     BAR_PAGES * getpagesize() };
}

static struct bar_mapping map_sysfs_bar(const char *bdf, int bar)
{
	char path[PATH_MAX];
	void *hva;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d",
		 bdf, bar);
	fd = open(path, O_RDWR | O_SYNC);
	TEST_ASSERT(fd >= 0, "open %s", path);
	hva = mmap(NULL, BAR_PAGES * getpagesize(), PROT_READ | PROT_WRITE,
		   MAP_SHARED, fd, 0);
	TEST_ASSERT(hva != MAP_FAILED, "mmap %s", path);
	close(fd);
	return (struct bar_mapping){ "sysfs resource mmap", hva,
				     BAR_PAGES * getpagesize() };
}

static struct kvm_vm *create_vm(struct kvm_vcpu **vcpu)
{
	struct kvm_vm *vm = vm_create_with_one_vcpu(vcpu, guest_code);

	vm_init_descriptor_tables(vm);
	vcpu_init_descriptor_tables(*vcpu);
	vm_install_sync_handler(vm, VECTOR_SYNC_CURRENT, ESR_ELx_EC_DABT_CUR,
				alignment_fault_handler);
	return vm;
}

/* Map the BAR at BAR_GVA, Normal-NC at stage 1. */
static void map_bar_in_guest(struct kvm_vm *vm)
{
	int i;

	virt_map(vm, BAR_GVA, BAR_GPA, BAR_PAGES);
	for (i = 0; i < BAR_PAGES; i++) {
		u64 *pte = virt_get_pte_hva(vm, BAR_GVA + i * vm->page_size);

		*pte = (*pte & ~PTE_ATTRINDX_MASK) | PTE_ATTRINDX(MT_NORMAL_NC);
	}
}

/* Run one access in the guest. */
static enum outcome run_case(struct kvm_vm *vm, struct kvm_vcpu *vcpu,
			     struct bar_mapping *m, enum access_case access)
{
	struct ucall uc;

	/* The host maps the BAR Device too: aligned accesses only. */
	WRITE_ONCE(*(u64 *)m->hva, 0);
	guest_alignment_faults = 0;
	sync_global_to_guest(vm, guest_alignment_faults);
	vcpu_arch_set_entry_point(vcpu, guest_code);
	vcpu_args_set(vcpu, 1, access);

	if (_vcpu_run(vcpu)) {
		TEST_ASSERT(errno == EFAULT, "KVM_RUN: %s", strerror(errno));
		return vcpu->run->exit_reason == KVM_EXIT_MEMORY_FAULT ?
		       MEMORY_FAULT_EXIT : STAGE2_FAULT;
	}
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_DONE:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
	default:
		TEST_FAIL("unexpected exit %s", exit_reason_str(vcpu->run->exit_reason));
	}
	sync_global_from_guest(vm, guest_alignment_faults);
	if (guest_alignment_faults)
		return GUEST_FAULT;
	if (access == STORE_ALIGNED)
		TEST_ASSERT_EQ(READ_ONCE(*(u64 *)m->hva), STORED_VALUE);
	return COMPLETED;
}

/* Run every access; true if each has the @expected outcome. */
static bool run_cases(struct kvm_vm *vm, struct kvm_vcpu *vcpu,
		      struct bar_mapping *m, const enum outcome *expected,
		      const char *what)
{
	bool same = true;
	int i;

	for (i = 0; i < NR_CASES; i++) {
		enum outcome got = run_case(vm, vcpu, m, i);

		if (got != expected[i]) {
			ksft_print_msg("%s: %s: %s, expected %s\n", what,
				       case_names[i], outcome_names[got],
				       outcome_names[expected[i]]);
			same = false;
		}
	}
	return same;
}

/* The guest on @m in a slot with @flags: outcomes as @expected. */
static void test_memtype(struct bar_mapping *m, u32 flags,
			 const enum outcome *expected, const char *what)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = create_vm(&vcpu);
	char name[160];

	snprintf(name, sizeof(name), "%s, %s: stage 2 %s", m->name,
		 flags & KVM_MEM_PFNMAP_DEVICE ? "KVM_MEM_PFNMAP_DEVICE" :
		 flags & KVM_MEM_PFNMAP_NORMAL_NC ? "KVM_MEM_PFNMAP_NORMAL_NC" :
		 "no flag", what);
	vm_set_user_memory_region2(vm, BAR_SLOT, flags, BAR_GPA, m->size,
				   m->hva, 0, 0);
	map_bar_in_guest(vm);
	ksft_test_result(run_cases(vm, vcpu, m, expected, name), "%s\n", name);
	kvm_vm_free(vm);
}

/* Changing the flags of a live slot changes the type of the next faults. */
static void test_flags_change(struct bar_mapping *m)
{
	static const struct {
		u32 flags;
		const enum outcome *expected;
		const char *what;
	} steps[] = {
		{ KVM_MEM_PFNMAP_NORMAL_NC, expected_normal_nc, "Normal-NC" },
		{ KVM_MEM_PFNMAP_DEVICE, expected_device, "then Device-nGnRE" },
		{ KVM_MEM_PFNMAP_NORMAL_NC, expected_normal_nc, "then Normal-NC" },
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = create_vm(&vcpu);
	bool ok = true;
	int i;

	map_bar_in_guest(vm);
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		vm_set_user_memory_region2(vm, BAR_SLOT, steps[i].flags, BAR_GPA,
					   m->size, m->hva, 0, 0);
		ok &= run_cases(vm, vcpu, m, steps[i].expected, steps[i].what);
	}
	ksft_test_result(ok, "%s: NORMAL_NC -> DEVICE -> NORMAL_NC on a live slot\n",
			 m->name);
	kvm_vm_free(vm);
}

/* Normal-NC where the VMA does not allow it: a memory fault exit. */
static void test_normal_nc_refused(struct bar_mapping *m)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = create_vm(&vcpu);
	bool refused;

	vm_set_user_memory_region2(vm, BAR_SLOT, KVM_MEM_PFNMAP_NORMAL_NC,
				   BAR_GPA, m->size, m->hva, 0, 0);
	map_bar_in_guest(vm);
	refused = run_case(vm, vcpu, m, STORE_ALIGNED) == MEMORY_FAULT_EXIT &&
		  vcpu->run->memory_fault.gpa == BAR_GPA &&
		  vcpu->run->memory_fault.size == getpagesize();
	ksft_test_result(refused,
			 "%s, KVM_MEM_PFNMAP_NORMAL_NC: KVM_RUN fails with EFAULT, KVM_EXIT_MEMORY_FAULT at the BAR\n",
			 m->name);
	kvm_vm_free(vm);
}

static void test_invalid_flags(struct bar_mapping *m, u32 supported)
{
	static const struct { u32 flags; const char *name; } invalid[] = {
		{ MEMTYPE_FLAGS, "both flags" },
		{ BIT(15), "an unknown flag" },
		{ KVM_MEM_PFNMAP_DEVICE, "KVM_MEM_PFNMAP_DEVICE" },
		{ KVM_MEM_PFNMAP_NORMAL_NC, "KVM_MEM_PFNMAP_NORMAL_NC" },
	};
	struct kvm_vm *vm = vm_create_barebones();
	int i, ret;

	for (i = 0; i < ARRAY_SIZE(invalid); i++) {
		if (!(invalid[i].flags & ~supported) &&
		    invalid[i].flags != MEMTYPE_FLAGS)
			continue;	/* a valid flag on this kernel */
		ret = __vm_set_user_memory_region2(vm, BAR_SLOT, invalid[i].flags,
						   BAR_GPA, m->size, m->hva, 0, 0);
		ksft_test_result(ret == -1 && errno == EINVAL,
				 "%s refused with EINVAL\n", invalid[i].name);
	}
	kvm_vm_free(vm);
}

static void help(const char *name)
{
	printf("usage: %s -d <domain:bus:device.function> [-b <bar>]\n"
	       "  The device must be bound to vfio-pci; <bar> (default 2) a\n"
	       "  memory BAR of at least %d pages.\n", name, BAR_PAGES);
	exit(KSFT_SKIP);
}

int main(int argc, char *argv[])
{
	struct bar_mapping vfio, sysfs;
	const char *bdf = NULL;
	int bar = 2, opt;
	u32 supported;

	while ((opt = getopt(argc, argv, "d:b:h")) != -1) {
		switch (opt) {
		case 'd':
			bdf = optarg;
			break;
		case 'b':
			bar = atoi(optarg);
			break;
		default:
			help(argv[0]);
		}
	}
	if (!bdf)
		help(argv[0]);

	supported = kvm_check_cap(KVM_CAP_PFNMAP_MEMTYPE_FLAGS);
	vfio = map_vfio_bar(bdf, bar);
	sysfs = map_sysfs_bar(bdf, bar);

	ksft_print_header();
	ksft_print_msg("KVM_CAP_PFNMAP_MEMTYPE_FLAGS: %#x\n", supported);
	if (!supported) {
		ksft_set_plan(5);
		test_memtype(&vfio, 0, expected_normal_nc, "Normal-NC (KVM's choice)");
		test_invalid_flags(&vfio, supported);
		ksft_finished();
	}

	TEST_ASSERT_EQ(supported, MEMTYPE_FLAGS);
	ksft_set_plan(9);
	test_memtype(&vfio, 0, expected_normal_nc, "Normal-NC (KVM's choice)");
	test_memtype(&vfio, KVM_MEM_PFNMAP_DEVICE, expected_device, "Device-nGnRE");
	test_memtype(&vfio, KVM_MEM_PFNMAP_NORMAL_NC, expected_normal_nc, "Normal-NC");
	test_flags_change(&vfio);
	test_memtype(&sysfs, 0, expected_device, "Device-nGnRE (KVM's choice)");
	test_memtype(&sysfs, KVM_MEM_PFNMAP_DEVICE, expected_device, "Device-nGnRE");
	test_normal_nc_refused(&sysfs);
	test_invalid_flags(&vfio, supported);
	ksft_finished();
}
