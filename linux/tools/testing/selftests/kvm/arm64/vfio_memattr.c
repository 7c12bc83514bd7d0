// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_memattr - the stage 2 type that a vfio-pci BAR's memory attribute
 * gives a guest
 *
 * For each memory attribute of VFIO_DEVICE_FEATURE_REGION_MEMATTR (NC, the
 * default, left as it is and set; WC; DEVICE), the test opens a device
 * bound to vfio-pci (iommufd), sets the attribute of a BAR, mmap()s the BAR
 * and adds the mapping to the VM as an ordinary memslot.  The guest maps
 * the BAR Normal at stage 1 and, in a scratch range of the BAR that the
 * caller names, does an unaligned 8-byte store, an unaligned STP and a
 * DC ZVA, then an aligned store.  KVM maps NC and WC BARs Normal-NC at
 * stage 2, where each access completes; it maps DEVICE BARs Device-nGnRE,
 * where all but the aligned store take an Alignment fault that KVM injects
 * into the guest: its handler checks ESR_EL1 (EC, DFSC, WnR) and FAR_EL1,
 * and the guest runs on.  What landed is read back with pread() on the
 * device, not through the host's mapping, which may be Device memory.
 * Where debugfs has KVM's stage 2 page tables (CONFIG_PTDUMP_STAGE2_DEBUGFS),
 * the test also checks the type of the scratch range's pages there.
 *
 * Without VFIO_DEVICE_FEATURE_REGION_MEMATTR, only the default is checked.
 *
 * Usage: vfio_memattr -d <domain:bus:device.function> [-b <bar>]
 *                     -s <offset>+<length>
 */
#include <fcntl.h>
#include <linux/vfio.h>

#include <libvfio.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"

#define BAR_GPA		BIT_ULL(32)
#define BAR_GVA		BAR_GPA
#define BAR_SLOT	1
#define FSC_ALIGNMENT	0x21
#define SCRATCH_MIN	0x2000
#define PATTERN		0xa5
#define STORED_VALUE	0x1122334455667788ULL
#define STP_VALUE_2	0x99aabbccddeeff00ULL

enum guest_access {
	STORE_UNALIGNED,
	STP_UNALIGNED,
	DC_ZVA,
	NR_ACCESSES,
};

static const struct {
	const char *name;
	u64 offset;		/* in the scratch range */
	u64 size;		/* bytes written */
} accesses[NR_ACCESSES] = {
	[STORE_UNALIGNED] = { "unaligned store", 0x11, 8 },
	[STP_UNALIGNED] = { "unaligned STP", 0x104, 16 },
	/* The size of a DC ZVA block is the guest's DCZID_EL0.BS. */
	[DC_ZVA] = { "DC ZVA", 0x1000, 0 },
};

/* After the others, an access that Device memory takes too. */
#define ALIGNED_OFFSET	0x200

/* The guest's record of what happened. */
static struct {
	int current;			/* the access the guest is doing */
	int faults[NR_ACCESSES];
	u64 esr[NR_ACCESSES], far[NR_ACCESSES];
	u64 zva_size;			/* 0: DC ZVA prohibited */
} guest_state;

static void data_abort_handler(struct ex_regs *regs)
{
	int i = READ_ONCE(guest_state.current);

	guest_state.esr[i] = read_sysreg(esr_el1);
	guest_state.far[i] = read_sysreg(far_el1);
	guest_state.faults[i]++;
	regs->pc += 4;
}

static void guest_code(u64 scratch)
{
	u64 a = STORED_VALUE, b = STP_VALUE_2, dczid = read_sysreg(dczid_el0);

	WRITE_ONCE(guest_state.current, STORE_UNALIGNED);
	asm volatile("str %0, [%1]"
		     : : "r"(a), "r"(scratch + accesses[STORE_UNALIGNED].offset)
		     : "memory");

	WRITE_ONCE(guest_state.current, STP_UNALIGNED);
	asm volatile("stp %0, %1, [%2]"
		     : : "r"(a), "r"(b),
			 "r"(scratch + accesses[STP_UNALIGNED].offset)
		     : "memory");

	/* DC ZVA is only architected where DCZID_EL0 allows it. */
	WRITE_ONCE(guest_state.current, DC_ZVA);
	if (!(dczid & DCZID_EL0_DZP)) {
		guest_state.zva_size = 4UL << (dczid & 0xf);
		asm volatile("dc zva, %0"
			     : : "r"(scratch + accesses[DC_ZVA].offset)
			     : "memory");
	}

	WRITE_ONCE(*(u64 *)(scratch + ALIGNED_OFFSET), STORED_VALUE);
	GUEST_DONE();
}

enum outcome {
	COMPLETED,		/* the access completed, its bytes landed */
	ALIGNMENT_FAULT,	/* the guest took the Alignment fault it should */
	WRONG_FAULT,		/* the guest took another fault, or a wrong one */
	WRONG_DATA,		/* no fault, but the bytes are not what it wrote */
	NOT_RUN,		/* DC ZVA prohibited (DCZID_EL0.DZP) */
};

static const char *const outcome_names[] = {
	"completed", "an Alignment fault", "a wrong fault", "wrong data",
	"not run (DC ZVA prohibited)",
};

static const struct memattr_case {
	const char *name;
	bool set;		/* SET the attribute, or leave the default */
	u32 memattr;
	enum outcome expected;	/* of each unaligned access and DC ZVA */
	const char *stage2;	/* in KVM's stage 2 page table dump */
} memattr_cases[] = {
	{ "NC (default)", false, VFIO_REGION_MEMATTR_NC, COMPLETED, "MEM/NORMAL-NC" },
	{ "NC", true, VFIO_REGION_MEMATTR_NC, COMPLETED, "MEM/NORMAL-NC" },
	{ "WC", true, VFIO_REGION_MEMATTR_WC, COMPLETED, "MEM/NORMAL-NC" },
	{ "DEVICE", true, VFIO_REGION_MEMATTR_DEVICE, ALIGNMENT_FAULT, "DEVICE/nGnRE" },
};

static const char *bdf;
static int bar = 2;
static u64 scratch_offset, scratch_size;
static struct iommu *iommu;

static int memattr_ioctl(struct vfio_pci_device *device, u32 flags, u32 *memattr)
{
	return __vfio_pci_region_memattr(device, flags,
					 VFIO_PCI_BAR0_REGION_INDEX + bar, memattr);
}

static void scratch_access(struct vfio_pci_device *device, bool write,
			   void *buf, u64 size)
{
	off_t offset = device->bars[bar].info.offset + scratch_offset;
	ssize_t ret;

	if (write)
		ret = pwrite(device->fd, buf, size, offset);
	else
		ret = pread(device->fd, buf, size, offset);
	TEST_ASSERT(ret == size, "%s the scratch range: %s",
		    write ? "pwrite" : "pread", strerror(errno));
}

/* @size bytes at @offset of @buf are @expected, or @PATTERN if NULL. */
static bool bytes_are(const u8 *buf, u64 offset, u64 size, const u8 *expected)
{
	u64 i;

	for (i = 0; i < size; i++) {
		if (buf[offset + i] != (expected ? expected[i] : PATTERN))
			return false;
	}
	return true;
}

/* The outcome of @access, from the guest's record and the scratch range. */
static enum outcome access_outcome(int access, const u8 *buf)
{
	u64 addr = BAR_GVA + scratch_offset + accesses[access].offset;
	u64 values[2] = { STORED_VALUE, STP_VALUE_2 };
	u64 esr = guest_state.esr[access];
	u8 zeros[2048] = { 0 };
	u64 offset, size;

	offset = accesses[access].offset;
	size = accesses[access].size;
	if (access == DC_ZVA) {
		if (!guest_state.zva_size)
			return NOT_RUN;
		size = guest_state.zva_size;
		offset &= ~(size - 1);
	}

	if (guest_state.faults[access]) {
		ksft_print_msg("%s: ESR_EL1 %#lx FAR_EL1 %#lx, %d fault(s)\n",
			       accesses[access].name, esr,
			       guest_state.far[access],
			       guest_state.faults[access]);
		if (guest_state.faults[access] == 1 &&
		    ESR_ELx_EC(esr) == ESR_ELx_EC_DABT_CUR &&
		    (esr & ESR_ELx_FSC) == FSC_ALIGNMENT &&
		    (esr & ESR_ELx_WNR) && guest_state.far[access] == addr &&
		    bytes_are(buf, offset, size, NULL))
			return ALIGNMENT_FAULT;
		return WRONG_FAULT;
	}
	if (!bytes_are(buf, offset, size,
		       access == DC_ZVA ? zeros : (const u8 *)values))
		return WRONG_DATA;
	return COMPLETED;
}

/*
 * The memory types, from KVM's stage 2 page table dump, of the mappings of
 * the guest's scratch range: false, and why, if there is no dump.
 */
static bool stage2_types(struct kvm_vm *vm, char *types, size_t len,
			 const char **why)
{
	u64 start = BAR_GPA + scratch_offset, end = start + scratch_size;
	char path[PATH_MAX], line[256];
	bool found = false;
	FILE *f;

	types[0] = '\0';
	if (access("/sys/kernel/debug/kvm", F_OK)) {
		*why = "no /sys/kernel/debug/kvm (debugfs not mounted?)";
		return false;
	}
	snprintf(path, sizeof(path),
		 "/sys/kernel/debug/kvm/%d-%d/stage2_page_tables", getpid(), vm->fd);
	f = fopen(path, "r");
	if (!f) {
		*why = "no stage2_page_tables in debugfs (CONFIG_PTDUMP_STAGE2_DEBUGFS?)";
		return false;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long from, to;
		const char *type = "none";
		bool mapped = true;
		int words = 0;
		char *word;

		if (sscanf(line, "0x%llx-0x%llx", &from, &to) != 2 ||
		    from >= end || to <= start)
			continue;
		line[strcspn(line, "\n")] = '\0';
		/* The range, its size and level, then what is mapped there. */
		for (word = strtok(line, " "); word; word = strtok(NULL, " ")) {
			if (++words <= 3)
				continue;
			if (!strcmp(word, "F"))
				mapped = false;	/* invalid: not mapped */
			else if (!strcmp(word, "DEVICE/nGnRE") ||
				 !strcmp(word, "MEM/NORMAL-NC") ||
				 !strcmp(word, "MEM/NORMAL"))
				type = word;
		}
		if (!mapped || words <= 3)
			continue;
		if (!strstr(types, type))
			snprintf(types + strlen(types), len - strlen(types),
				 "%s%s", types[0] ? " " : "", type);
		found = true;
	}
	fclose(f);
	if (!found) {
		*why = "the scratch range is not mapped at stage 2";
		return false;
	}
	if (!strcmp(types, "none")) {
		*why = "the stage 2 dump names no memory type (a kernel that does not print it)";
		return false;
	}
	return true;
}

static void test_memattr(const struct memattr_case *c, bool supported)
{
	struct vfio_pci_device *device;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	char types[64];
	const char *why;
	u32 memattr = c->memattr;
	u64 off, got;
	int i, ret;
	u8 *buf;

	device = vfio_pci_device_init_unmapped(bdf, iommu);
	if (c->set) {
		ret = memattr_ioctl(device, VFIO_DEVICE_FEATURE_SET, &memattr);
		TEST_ASSERT(!ret, "SET %s: %s", c->name, strerror(-ret));
	}
	vfio_pci_bar_map(device, bar);
	if (supported) {
		ret = memattr_ioctl(device, VFIO_DEVICE_FEATURE_GET, &memattr);
		TEST_ASSERT(!ret, "GET: %s", strerror(-ret));
		TEST_ASSERT_EQ(memattr, c->memattr);
	}

	buf = malloc(scratch_size);
	TEST_ASSERT(buf, "malloc");
	memset(buf, PATTERN, scratch_size);
	scratch_access(device, true, buf, scratch_size);

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	vm_init_descriptor_tables(vm);
	vcpu_init_descriptor_tables(vcpu);
	/* The guest runs at EL1 only: its faults are taken from EL1. */
	vm_install_sync_handler(vm, VECTOR_SYNC_CURRENT, ESR_ELx_EC_DABT_CUR,
				data_abort_handler);
	vm_set_user_memory_region(vm, BAR_SLOT, 0, BAR_GPA,
				  device->bars[bar].info.size,
				  device->bars[bar].vaddr);
	for (off = scratch_offset & ~(u64)(vm->page_size - 1);
	     off < scratch_offset + scratch_size; off += vm->page_size)
		virt_pg_map(vm, BAR_GVA + off, BAR_GPA + off);
	vcpu_args_set(vcpu, 1, BAR_GVA + scratch_offset);

	ret = _vcpu_run(vcpu);
	TEST_ASSERT(!ret, "%s: KVM_RUN: %s", c->name, strerror(errno));
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_DONE:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
	default:
		TEST_FAIL("%s: unexpected exit %s", c->name,
			  exit_reason_str(vcpu->run->exit_reason));
	}
	sync_global_from_guest(vm, guest_state);
	scratch_access(device, false, buf, scratch_size);

	for (i = 0; i < NR_ACCESSES; i++) {
		enum outcome outcome = access_outcome(i, buf);

		if (outcome == NOT_RUN) {
			ksft_test_result_skip("%s: %s: %s\n", c->name,
					      accesses[i].name,
					      outcome_names[outcome]);
			continue;
		}
		if (outcome != c->expected)
			ksft_print_msg("%s: %s: %s, expected %s\n", c->name,
				       accesses[i].name, outcome_names[outcome],
				       outcome_names[c->expected]);
		ksft_test_result(outcome == c->expected, "%s: %s: %s\n", c->name,
				 accesses[i].name, outcome_names[c->expected]);
	}

	memcpy(&got, buf + ALIGNED_OFFSET, sizeof(got));
	ksft_test_result(got == STORED_VALUE,
			 "%s: the guest runs on, its aligned store lands\n",
			 c->name);

	if (!stage2_types(vm, types, sizeof(types), &why)) {
		ksft_print_msg("%s: %s\n", c->name, why);
		ksft_test_result_skip("%s: stage 2 %s\n", c->name, c->stage2);
	} else {
		if (strcmp(types, c->stage2))
			ksft_print_msg("%s: stage 2 %s, expected %s\n", c->name,
				       types, c->stage2);
		ksft_test_result(!strcmp(types, c->stage2), "%s: stage 2 %s\n",
				 c->name, c->stage2);
	}

	kvm_vm_free(vm);
	free(buf);
	vfio_pci_device_cleanup(device);
}

static void help(const char *name)
{
	printf("usage: %s -d <domain:bus:device.function> [-b <bar>] -s <offset>+<length>\n"
	       "  The device must be bound to vfio-pci; <bar> (default 2) a memory\n"
	       "  BAR; <offset>+<length> a scratch range of it, of at least %#x\n"
	       "  bytes, that the test may write.\n", name, SCRATCH_MIN);
	exit(KSFT_SKIP);
}

int main(int argc, char *argv[])
{
	struct vfio_pci_device *device;
	const char *scratch = NULL;
	bool supported;
	int opt, i, n, ret;
	u64 bar_size;

	while ((opt = getopt(argc, argv, "d:b:s:h")) != -1) {
		switch (opt) {
		case 'd':
			bdf = optarg;
			break;
		case 'b':
			bar = atoi(optarg);
			break;
		case 's':
			scratch = optarg;
			break;
		default:
			help(argv[0]);
		}
	}

	ksft_print_header();
	__TEST_REQUIRE(bdf,
		       "no device: -d <domain:bus:device.function> names a PCI device bound to vfio-pci");
	__TEST_REQUIRE(scratch,
		       "no scratch range: -s <offset>+<length> names a range of the BAR the test may write");
	TEST_ASSERT(sscanf(scratch, "%li+%li%n", &scratch_offset, &scratch_size,
			   &n) == 2 && !scratch[n] && bar >= 0 &&
		    bar < PCI_STD_NUM_BARS, "usage: -b <bar> -s <offset>+<length>");

	iommu = iommu_init(default_iommu_mode);
	device = vfio_pci_device_init_unmapped(bdf, iommu);
	__TEST_REQUIRE(device->bars[bar].info.flags & VFIO_REGION_INFO_FLAG_MMAP,
		       "BAR %d of %s cannot be mmap()ed", bar, bdf);
	bar_size = device->bars[bar].info.size;
	TEST_ASSERT(scratch_size >= SCRATCH_MIN &&
		    scratch_offset + scratch_size > scratch_offset &&
		    scratch_offset + scratch_size <= bar_size,
		    "the scratch range %#lx+%#lx is under %#x bytes or not in BAR %d (%#lx bytes)",
		    scratch_offset, scratch_size, SCRATCH_MIN, bar, bar_size);
	ret = memattr_ioctl(device, VFIO_DEVICE_FEATURE_PROBE |
			    VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET,
			    NULL);
	supported = !ret;
	vfio_pci_device_cleanup(device);

	if (supported)
		ksft_print_msg("%s: supported: testing NC (default and set), WC and DEVICE\n",
			       "VFIO_DEVICE_FEATURE_REGION_MEMATTR");
	else
		ksft_print_msg("%s: %s, SET unavailable: testing the default (NC) only\n",
			       "VFIO_DEVICE_FEATURE_REGION_MEMATTR", strerror(-ret));

	n = supported ? ARRAY_SIZE(memattr_cases) : 1;
	ksft_set_plan(n * (NR_ACCESSES + 2));
	for (i = 0; i < n; i++)
		test_memattr(&memattr_cases[i], supported);

	iommu_cleanup(iommu);
	ksft_finished();
}
