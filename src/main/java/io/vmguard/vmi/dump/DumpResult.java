package io.vmguard.vmi.dump;

import java.nio.file.Path;

/**
 * What a dump came to. A value rather than a thrown exception, because dumps run inside
 * {@code Vm.inspect(Function)}, whose function cannot throw checked exceptions.
 */
public sealed interface DumpResult {
    /** The dump is at {@code file}, complete (it replaced any earlier file there in one rename). */
    record Written(Path file, long fileBytes, long memoryBytes, long storedMemoryBytes, int vcpus, int loadSegments)
            implements DumpResult {}

    /** Nothing was written (a temporary file, if any, was removed); {@code message} is one line for the user. */
    record Failed(String message) implements DumpResult {}

    /** The written dump, or the failure as an exception for callers that propagate errors. */
    default Written orThrow() throws DumpException {
        return switch (this) {
            case Written written -> written;
            case Failed failed -> throw new DumpException(failed.message());
        };
    }
}
