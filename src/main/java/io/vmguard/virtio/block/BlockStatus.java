package io.vmguard.virtio.block;

/** The status byte the device writes at the end of each request (virtio 1.2, section 5.2.6). */
enum BlockStatus {
    OK(0),
    /** A device error, or a driver request that cannot be carried out (out of range, bad length, bad buffer). */
    IOERR(1),
    /** A request type the device does not support or did not offer. */
    UNSUPP(2);

    private final byte code;

    BlockStatus(int code) {
        this.code = (byte) code;
    }

    byte code() {
        return code;
    }
}
