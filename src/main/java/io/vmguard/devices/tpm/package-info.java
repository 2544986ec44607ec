/**
 * The guest's TPM 2.0 as a Command Response Buffer (CRB) device (TCG PC Client Platform TPM Profile, 6.5):
 * one page of registers and buffer at 0xFED40000 that Linux's tpm_crb driver finds through ACPI (the
 * TPM2 table and an MSFT0101 device). Commands run on a backend (swtpm) off the vCPU thread.
 */
package io.vmguard.devices.tpm;
