/**
 * Guest memory dumps as ELF core files in the layout QEMU's {@code dump-guest-memory} writes (without
 * paging, without filtering), so the tools people already use on QEMU dumps read ours: Debian's
 * {@code crash} with the guest's vmlinux, gdb, readelf.
 *
 * <p>The file: an ELF64 little-endian {@code ET_CORE} header for {@code EM_X86_64}; one {@code PT_NOTE}
 * segment, then one {@code PT_LOAD} per guest RAM range ({@code p_paddr} = {@code p_vaddr} = its guest-physical
 * start, as QEMU does when it does not walk the guest's page tables). The notes, in QEMU's order: an
 * {@code NT_PRSTATUS} ("CORE") per vCPU, a "QEMU" note ({@code QEMUCPUState}) per vCPU, then, when the
 * caller supplies it, the guest's {@code VMCOREINFO}. crash finds a KASLR kernel's slide from the QEMU
 * notes' CR3 and IDTR when there is no VMCOREINFO.
 */
package io.vmguard.vmi.dump;
