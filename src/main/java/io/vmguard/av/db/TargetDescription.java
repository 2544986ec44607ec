package io.vmguard.av.db;

/**
 * The target description block of a logical signature, reduced to what vmguard evaluates: the target type and
 * the inclusive ranges FileSize, EntryPoint (a file offset) and NumberOfSections; a null range is no condition.
 */
public record TargetDescription(Target target, long[] fileSize, long[] entryPoint, long[] sections) {
    /** Whether the conditions need an executable's parsed headers. */
    public boolean needsLayout() {
        return entryPoint != null || sections != null;
    }

    /** Whether any condition depends on the scanned object being a whole file (not a raw memory window). */
    public boolean needsFile() {
        return fileSize != null || needsLayout();
    }

    /** @param entryPoint -1 when the object has none; sectionCount -1 when it is not an executable */
    public boolean admits(long size, long entryPoint, int sectionCount) {
        return within(fileSize, size)
                && (this.entryPoint == null || (entryPoint >= 0 && within(this.entryPoint, entryPoint)))
                && (this.sections == null || (sectionCount >= 0 && within(this.sections, sectionCount)));
    }

    private static boolean within(long[] range, long value) {
        return range == null || (value >= range[0] && value <= range[1]);
    }
}
