// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfnmap_memtype - the stage-2 memory type of a memslot's device memory
 *
 * Maps a memory BAR of a PCI device bound to vfio-pci, whose mmap() allows
 * any uncached type (VM_ALLOW_ANY_UNCACHED), into a memslot.  The guest maps
 * the BAR Normal-NC at stage 1, as a driver's ioremap_wc() does, and runs one
 * access a run: an aligned store, unaligned stores and loads, unaligned STP
 * and LDP, DC ZVA.  Under a Normal-NC stage 2 each completes.  Under
 * Device-nGnRE all but the aligned store take an Alignment fault at stage 2,
 * which KVM injects into the guest as the Alignment fault it would take at
 * stage 1 had it mapped the BAR Device: the guest's handler checks ESR_EL1
 * (EC, DFSC, WnR) and FAR_EL1.
 *
 * It also checks what KVM refuses: KVM_MEM_PFNMAP_NORMAL_NC on a mapping
 * that does not allow it (the device's sysfs resource file; the slot is
 * made and deleted, never run, as that alias of a BAR vfio owns is not
 * revoked when vfio resets the device or disables its memory), a change of
 * a live slot's type, and the memory fault exit, with
 * KVM_MEMORY_EXIT_FLAG_MEMTYPE, for a slot whose VMA was replaced after the
 * slot was made.  The checks that need no device are in
 * set_memory_region_test.
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

static const struct {
	const char *name;
	u64 offset;		/* in the BAR */
	u64 size;		/* FAR_EL1 must name a byte of the access */
	bool write;		/* what ESR_EL1.WnR must say */
} cases[NR_CASES] = {
	[STORE_ALIGNED] = { "aligned store", 0x0, 8, true },
	[STORE_UNALIGNED] = { "unaligned store", 0x101, 8, true },
	[LOAD_UNALIGNED] = { "unaligned load", 0x201, 8, false },
	[STP_UNALIGNED] = { "unaligned STP", 0x304, 16, true },
	[LDP_UNALIGNED] = { "unaligned LDP", 0x404, 16, false },
	/* DC ZVA reports its operand, as a store. */
	[DC_ZVA] = { "DC ZVA", 0x1000, 1, true },
};

#define STORED_VALUE	0x1122334455667788ULL

/* The guest's record of the faults it took. */
static struct {
	u64 esr, far;
	int count;
} guest_faults;

static void data_abort_handler(struct ex_regs *regs)
{
	guest_faults.esr = read_sysreg(esr_el1);
	guest_faults.far = read_sysreg(far_el1);
	guest_faults.count++;
	regs->pc += 4;
}

static void guest_code(u64 access)
{
	u64 addr = BAR_GVA + cases[access].offset, a = 1, b = 2;

	switch (access) {
	case STORE_ALIGNED:
		WRITE_ONCE(*(u64 *)addr, STORED_VALUE);
		break;
	case STORE_UNALIGNED:
		asm volatile("str %0, [%1]" : : "r"(a), "r"(addr) : "memory");
		break;
	case LOAD_UNALIGNED:
		asm volatile("ldr %0, [%1]" : "=r"(a) : "r"(addr) : "memory");
		break;
	case STP_UNALIGNED:
		asm volatile("stp %0, %1, [%2]"
			     : : "r"(a), "r"(b), "r"(addr) : "memory");
		break;
	case LDP_UNALIGNED:
		asm volatile("ldp %0, %1, [%2]"
			     : "=r"(a), "=r"(b) : "r"(addr) : "memory");
		break;
	case DC_ZVA:
		/* DC ZVA is only architected where DCZID_EL0 allows it. */
		if (read_sysreg(dczid_el0) & DCZID_EL0_DZP)
			GUEST_SYNC(DCZID_EL0_DZP);
		asm volatile("dc zva, %0" : : "r"(addr) : "memory");
		break;
	}
	GUEST_DONE();
}

enum outcome {
	COMPLETED,		/* the access completed */
	ALIGNMENT_FAULT,	/* the guest took the Alignment fault it should */
	WRONG_FAULT,		/* the guest took another fault, or a wrong one */
	KVM_RUN_EFAULT,		/* KVM_RUN: EFAULT, a fault KVM did not handle */
	MEMORY_FAULT_EXIT,	/* KVM_RUN: EFAULT, KVM_EXIT_MEMORY_FAULT */
	NOT_RUN,		/* DC ZVA prohibited (DCZID_EL0.DZP) */
};

static const char *const outcome_names[] = {
	"completed", "an Alignment fault", "a wrong fault", "KVM_RUN EFAULT",
	"a memory fault exit", "not run (DC ZVA prohibited)",
};

/* What the architecture gives the guest's Normal-NC mapping. */
static const enum outcome expected_normal_nc[NR_CASES];
static const enum outcome expected_device[NR_CASES] = {
	[STORE_UNALIGNED] = ALIGNMENT_FAULT, [LOAD_UNALIGNED] = ALIGNMENT_FAULT,
	[STP_UNALIGNED] = ALIGNMENT_FAULT, [LDP_UNALIGNED] = ALIGNMENT_FAULT,
	[DC_ZVA] = ALIGNMENT_FAULT,
};

struct bar_mapping {
	const char *name;
	void *hva;
	size_t size;
};

/* Where each run starts the guest's stack. */
static u64 guest_sp;

static int open_vfio_device(const char *bdf)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[PATH_MAX], link[PATH_MAX];
	int container, group, device;
	ssize_t len;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	len = readlink(path, link, sizeof(link) - 1);
	__TEST_REQUIRE(len > 0, "%s has no IOMMU group", bdf);
	link[len] = '\0';
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(link));

	container = open("/dev/vfio/vfio", O_RDWR);
	__TEST_REQUIRE(container >= 0, "no /dev/vfio/vfio");
	group = open(path, O_RDWR);
	__TEST_REQUIRE(group >= 0, "cannot open %s: is %s bound to vfio-pci?",
		       path, bdf);
	TEST_ASSERT(!ioctl(group, VFIO_GROUP_GET_STATUS, &status) &&
		    (status.flags & VFIO_GROUP_FLAGS_VIABLE),
		    "IOMMU group %s is not viable", path);
	TEST_ASSERT(!ioctl(group, VFIO_GROUP_SET_CONTAINER, &container),
		    "VFIO_GROUP_SET_CONTAINER");
	TEST_ASSERT(!ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU),
		    "VFIO_SET_IOMMU");
	device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	TEST_ASSERT(device >= 0, "VFIO_GROUP_GET_DEVICE_FD %s", bdf);
	return device;
}

static struct bar_mapping map_vfio_bar(int device, int bar)
{
	struct vfio_region_info region = { .argsz = sizeof(region) };
	size_t size = BAR_PAGES * getpagesize();
	void *hva;

	region.index = VFIO_PCI_BAR0_REGION_INDEX + bar;
	TEST_ASSERT(!ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &region),
		    "VFIO_DEVICE_GET_REGION_INFO BAR %d", bar);
	__TEST_REQUIRE(region.flags & VFIO_REGION_INFO_FLAG_MMAP,
		       "BAR %d cannot be mmapped", bar);
	__TEST_REQUIRE(region.size >= size, "BAR %d is smaller than %d pages",
		       bar, BAR_PAGES);
	hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, device,
		   region.offset);
	TEST_ASSERT(hva != MAP_FAILED, "mmap BAR %d through vfio", bar);
	return (struct bar_mapping){ "vfio-pci mmap", hva, size };
}

/*
 * The BAR through sysfs, whose mmap does not allow any uncached type; the
 * kernel may refuse it for a BAR that vfio-pci holds (IO_STRICT_DEVMEM,
 * lockdown): then @hva is NULL.
 */
static struct bar_mapping map_sysfs_bar(const char *bdf, int bar)
{
	size_t size = BAR_PAGES * getpagesize();
	char path[PATH_MAX];
	void *hva = NULL;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d",
		 bdf, bar);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd >= 0) {
		hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (hva == MAP_FAILED)
			hva = NULL;
		close(fd);
	}
	if (!hva)
		ksft_print_msg("%s: %s\n", path, strerror(errno));
	return (struct bar_mapping){ "sysfs resource mmap", hva, size };
}

static struct kvm_vm *create_vm(struct kvm_vcpu **vcpu)
{
	struct kvm_vm *vm = vm_create_with_one_vcpu(vcpu, guest_code);
	int i;

	vm_init_descriptor_tables(vm);
	vcpu_init_descriptor_tables(*vcpu);
	vm_install_sync_handler(vm, VECTOR_SYNC_CURRENT, ESR_ELx_EC_DABT_CUR,
				data_abort_handler);
	guest_sp = vcpu_get_reg(*vcpu, ctxt_reg_alias(*vcpu, SYS_SP_EL1));

	/* The BAR at BAR_GVA, Normal-NC at stage 1. */
	for (i = 0; i < BAR_PAGES; i++)
		_virt_pg_map(vm, BAR_GVA + i * vm->page_size,
			     BAR_GPA + i * vm->page_size, MT_NORMAL_NC);
	return vm;
}

/* The fault the guest took is the Alignment fault @access should give. */
static bool is_expected_alignment_fault(enum access_case access)
{
	u64 esr = guest_faults.esr;

	u64 addr = BAR_GVA + cases[access].offset;

	return guest_faults.count == 1 &&
	       ESR_ELx_EC(esr) == ESR_ELx_EC_DABT_CUR &&
	       (esr & ESR_ELx_FSC) == FSC_ALIGNMENT &&
	       !!(esr & ESR_ELx_WNR) == cases[access].write &&
	       guest_faults.far >= addr &&
	       guest_faults.far < addr + cases[access].size;
}

/* Run one access in the guest. */
static enum outcome run_case(struct kvm_vm *vm, struct kvm_vcpu *vcpu,
			     struct bar_mapping *m, enum access_case access)
{
	struct ucall uc;

	/* The host maps the BAR Device too: aligned accesses only. */
	WRITE_ONCE(*(u64 *)m->hva, 0);
	memset(&guest_faults, 0, sizeof(guest_faults));
	sync_global_to_guest(vm, guest_faults);
	vcpu_arch_set_entry_point(vcpu, guest_code);
	vcpu_set_reg(vcpu, ctxt_reg_alias(vcpu, SYS_SP_EL1), guest_sp);
	vcpu_args_set(vcpu, 1, access);

	if (_vcpu_run(vcpu)) {
		TEST_ASSERT(errno == EFAULT, "KVM_RUN: %s", strerror(errno));
		return vcpu->run->exit_reason == KVM_EXIT_MEMORY_FAULT ?
		       MEMORY_FAULT_EXIT : KVM_RUN_EFAULT;
	}
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_DONE:
		break;
	case UCALL_SYNC:
		return NOT_RUN;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
	default:
		TEST_FAIL("unexpected exit %s", exit_reason_str(vcpu->run->exit_reason));
	}
	sync_global_from_guest(vm, guest_faults);
	if (guest_faults.count) {
		if (is_expected_alignment_fault(access))
			return ALIGNMENT_FAULT;
		ksft_print_msg("%s: ESR_EL1 %#lx FAR_EL1 %#lx, %d fault(s)\n",
			       cases[access].name, guest_faults.esr,
			       guest_faults.far, guest_faults.count);
		return WRONG_FAULT;
	}
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

		if (got == NOT_RUN) {
			ksft_print_msg("%s: %s: %s\n", what, cases[i].name,
				       outcome_names[got]);
		} else if (got != expected[i]) {
			ksft_print_msg("%s: %s: %s, expected %s\n", what,
				       cases[i].name, outcome_names[got],
				       outcome_names[expected[i]]);
			same = false;
		}
	}
	return same;
}

static const char *flag_name(u32 flags)
{
	if (flags & KVM_MEM_PFNMAP_DEVICE)
		return "KVM_MEM_PFNMAP_DEVICE";
	if (flags & KVM_MEM_PFNMAP_NORMAL_NC)
		return "KVM_MEM_PFNMAP_NORMAL_NC";
	return "no flag";
}

/* The guest on @m in a slot with @flags: outcomes as @expected. */
static void test_memtype(struct bar_mapping *m, u32 flags,
			 const enum outcome *expected, const char *what)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = create_vm(&vcpu);
	char name[160];

	snprintf(name, sizeof(name), "%s, %s: stage 2 %s", m->name,
		 flag_name(flags), what);
	vm_set_user_memory_region2(vm, BAR_SLOT, flags, BAR_GPA, m->size,
				   m->hva, 0, 0);
	ksft_test_result(run_cases(vm, vcpu, m, expected, name), "%s\n", name);
	kvm_vm_free(vm);
}

/*
 * A live slot's type cannot change (KVM_MR_FLAGS_ONLY), and the slot keeps
 * the one it has; deleting the slot and making it again with another type
 * is how a VMM changes it.
 */
static void test_memtype_change(struct bar_mapping *m)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = create_vm(&vcpu);
	bool ok;
	int ret;

	vm_set_user_memory_region2(vm, BAR_SLOT, KVM_MEM_PFNMAP_NORMAL_NC,
				   BAR_GPA, m->size, m->hva, 0, 0);
	ok = run_cases(vm, vcpu, m, expected_normal_nc, "Normal-NC");
	ret = __vm_set_user_memory_region2(vm, BAR_SLOT, KVM_MEM_PFNMAP_DEVICE,
					   BAR_GPA, m->size, m->hva, 0, 0);
	ok &= ret == -1 && errno == EINVAL;
	ok &= run_cases(vm, vcpu, m, expected_normal_nc, "still Normal-NC");
	vm_set_user_memory_region2(vm, BAR_SLOT, 0, 0, 0, NULL, 0, 0);
	vm_set_user_memory_region2(vm, BAR_SLOT, KVM_MEM_PFNMAP_DEVICE,
				   BAR_GPA, m->size, m->hva, 0, 0);
	ok &= run_cases(vm, vcpu, m, expected_device, "then Device-nGnRE");
	ksft_test_result(ok, "%s: live type change refused, re-made slot has the new type\n",
			 m->name);
	kvm_vm_free(vm);
}

/* KVM_MEM_PFNMAP_NORMAL_NC where the VMA does not allow it: refused. */
static void test_normal_nc_refused(struct bar_mapping *m)
{
	struct kvm_vm *vm;
	int ret;

	if (!m->hva) {
		ksft_test_result_skip("%s, KVM_MEM_PFNMAP_NORMAL_NC: cannot mmap\n", m->name);
		ksft_test_result_skip("%s, KVM_MEM_PFNMAP_DEVICE: cannot mmap\n", m->name);
		return;
	}
	vm = vm_create_barebones();

	ret = __vm_set_user_memory_region2(vm, BAR_SLOT, KVM_MEM_PFNMAP_NORMAL_NC,
					   BAR_GPA, m->size, m->hva, 0, 0);
	ksft_test_result(ret == -1 && errno == EINVAL,
			 "%s, KVM_MEM_PFNMAP_NORMAL_NC: refused (no VM_ALLOW_ANY_UNCACHED)\n",
			 m->name);
	ret = __vm_set_user_memory_region2(vm, BAR_SLOT, KVM_MEM_PFNMAP_DEVICE,
					   BAR_GPA, m->size, m->hva, 0, 0);
	ksft_test_result(!ret, "%s, KVM_MEM_PFNMAP_DEVICE: accepted\n", m->name);
	kvm_vm_free(vm);
}

/*
 * The VMA under a KVM_MEM_PFNMAP_NORMAL_NC slot replaced by normal memory
 * after the slot was made: a memory fault exit that says so, on the page.
 */
static void test_vma_replaced(struct bar_mapping *m)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = create_vm(&vcpu);
	struct kvm_run *run = vcpu->run;
	enum outcome got;
	void *anon;

	vm_set_user_memory_region2(vm, BAR_SLOT, KVM_MEM_PFNMAP_NORMAL_NC,
				   BAR_GPA, m->size, m->hva, 0, 0);
	anon = mmap(m->hva, m->size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	TEST_ASSERT(anon == m->hva, "mmap over the BAR");
	got = run_case(vm, vcpu, m, STORE_UNALIGNED);
	ksft_print_msg("%s, memory_fault: flags %#llx, gpa %#llx, size %#llx\n",
		       outcome_names[got], run->memory_fault.flags,
		       run->memory_fault.gpa, run->memory_fault.size);
	ksft_test_result(got == MEMORY_FAULT_EXIT &&
			 (run->memory_fault.flags & KVM_MEMORY_EXIT_FLAG_MEMTYPE) &&
			 run->memory_fault.gpa == BAR_GPA &&
			 run->memory_fault.size == getpagesize(),
			 "%s replaced by anonymous memory, KVM_MEM_PFNMAP_NORMAL_NC: a memory type fault exit\n",
			 m->name);
	kvm_vm_free(vm);
}

/* Each of @flags on @m's device memory: refused with EINVAL. */
static void test_flags_refused(struct bar_mapping *m, const u32 *flags, int n)
{
	struct kvm_vm *vm = vm_create_barebones();
	int i, ret;

	for (i = 0; i < n; i++) {
		ret = __vm_set_user_memory_region2(vm, BAR_SLOT, flags[i], BAR_GPA,
						   m->size, m->hva, 0, 0);
		ksft_test_result(ret == -1 && errno == EINVAL,
				 "%s, %s: refused with EINVAL\n", m->name,
				 flags[i] == MEMTYPE_FLAGS ? "both flags" :
				 flag_name(flags[i]));
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
	int bar = 2, device, opt;
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

	ksft_print_header();
	__TEST_REQUIRE(bdf,
		       "no device: -d <domain:bus:device.function> names a PCI device bound to vfio-pci");
	device = open_vfio_device(bdf);
	vfio = map_vfio_bar(device, bar);
	supported = kvm_check_cap(KVM_CAP_PFNMAP_MEMTYPE_FLAGS);
	ksft_print_msg("KVM_CAP_PFNMAP_MEMTYPE_FLAGS: %#x\n", supported);

	if (!supported) {
		static const u32 each[] = {
			KVM_MEM_PFNMAP_DEVICE, KVM_MEM_PFNMAP_NORMAL_NC,
		};

		ksft_set_plan(3);
		test_memtype(&vfio, 0, expected_normal_nc, "Normal-NC (KVM's choice)");
		test_flags_refused(&vfio, each, ARRAY_SIZE(each));
	} else {
		static const u32 both = MEMTYPE_FLAGS;

		TEST_ASSERT_EQ(supported, MEMTYPE_FLAGS);
		sysfs = map_sysfs_bar(bdf, bar);
		ksft_set_plan(8);
		test_memtype(&vfio, 0, expected_normal_nc, "Normal-NC (KVM's choice)");
		test_memtype(&vfio, KVM_MEM_PFNMAP_DEVICE, expected_device, "Device-nGnRE");
		test_memtype(&vfio, KVM_MEM_PFNMAP_NORMAL_NC, expected_normal_nc, "Normal-NC");
		test_flags_refused(&vfio, &both, 1);
		test_memtype_change(&vfio);
		test_normal_nc_refused(&sysfs);
		test_vma_replaced(&vfio);
		if (sysfs.hva)
			munmap(sysfs.hva, sysfs.size);
	}
	munmap(vfio.hva, vfio.size);
	close(device);
	ksft_finished();
}
