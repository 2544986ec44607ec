package io.vmguard.iommu;

import java.util.OptionalLong;

/** The outcome of translating one whole access: where its bytes are in guest-physical memory, or why not. */
sealed interface Translation {
    /** All of it at guest-physical {@code physical} onwards (one mapping, or bypass). */
    record Contiguous(long physical) implements Translation {}

    /** In pieces: {@code lengths[i]} bytes at {@code physicals[i]}, in order (IOVA-adjacent mappings). */
    record Pieces(long[] physicals, long[] lengths) implements Translation {}

    /** Refused: nothing may move. {@code address} is the first IOVA that cannot be reached. */
    record Refused(IommuFault.Reason reason, long address, OptionalLong domain) implements Translation {}
}
