package io.vmguard.iommu;

/** The status a request's tail carries back to the driver (virtio 1.2, 5.13.6.2). */
public enum Status {
    OK(0), IOERR(1), UNSUPP(2), DEVERR(3), INVAL(4), RANGE(5), NOENT(6), FAULT(7), NOMEM(8);

    private final int code;

    Status(int code) {
        this.code = code;
    }

    /** The byte in virtio_iommu_req_tail.status. */
    public int code() {
        return code;
    }
}
