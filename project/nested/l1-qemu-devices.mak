# Devices of the nested test bed's L1 QEMU (project/scripts/build-l1-qemu.sh):
# the virt board and vfio-pci, nothing else.
CONFIG_ARM_VIRT=y
CONFIG_VFIO_PCI=y
# ARM_VIRT selects ACPI_CXL, which in 10.2.2 does not build or start
# without these.
CONFIG_PXB=y
CONFIG_CXL=y
CONFIG_CXL_MEM_DEVICE=y
CONFIG_PCIE_PORT=y
