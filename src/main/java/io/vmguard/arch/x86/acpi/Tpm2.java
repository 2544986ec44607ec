package io.vmguard.arch.x86.acpi;

/**
 * The guest's TPM 2.0 as ACPI describes it: the TPM2 table (TCG ACPI Specification 1.3, 8.3, revision 4
 * with the log area fields, as QEMU 7.2 builds it) and the DSDT's {@code MSFT0101} device whose _CRS is
 * the CRB page. Linux's tpm_crb binds to the device, finds its registers through the table's control area
 * (which must be the page's start + 0x40, or it skips the locality registers), and reads the TCG event
 * log from [{@code logAddress}, {@code logAddress + logSize}).
 *
 * @param crbBase    the CRB page's guest-physical address
 * @param crbSize    its size
 * @param controlArea the control area's address (CRB_CTRL_REQ)
 * @param logAddress the event log area (LASA): outside the e820 RAM, so Linux maps all of it
 * @param logSize    its size (LAML)
 */
public record Tpm2(long crbBase, long crbSize, long controlArea, long logAddress, long logSize) {
    static final String SIGNATURE = "TPM2";
    private static final int REVISION = 4;
    /** Start method 7: the Command Response Buffer interface, started through its START register. */
    private static final int START_METHOD_CRB = 7;
    private static final int START_METHOD_PARAMETERS = 12;

    public Tpm2 {
        if (controlArea < crbBase || controlArea >= crbBase + crbSize) {
            throw new IllegalArgumentException("the TPM's control area lies outside its CRB page");
        }
        if (logSize <= 0 || logSize > 0xffff_ffffL) {
            throw new IllegalArgumentException("bad TPM event log size " + logSize);
        }
    }

    byte[] table() {
        ByteWriter body = new ByteWriter()
                .u16(0) // platform class: client
                .u16(0) // reserved
                .u64(controlArea)
                .u32(START_METHOD_CRB)
                .zeros(START_METHOD_PARAMETERS)
                .u32(logSize)
                .u64(logAddress);
        return Sdt.build(SIGNATURE, REVISION, body.toArray());
    }

    /** {@code Device (TPM_) { _HID "MSFT0101", _STA 0x0F, _CRS Memory32Fixed (ReadWrite, base, size) }}. */
    Aml.Device device() {
        return Aml.device("TPM_",
                Aml.name("_HID", Aml.string("MSFT0101")),
                Aml.name("_STA", Aml.integer(0x0f)),
                Aml.name("_CRS", ResourceTemplate.of(new Resource.Memory32Fixed(crbBase, crbSize))));
    }
}
