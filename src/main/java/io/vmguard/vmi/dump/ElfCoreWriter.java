package io.vmguard.vmi.dump;

import io.vmguard.vmi.GuestView;
import io.vmguard.vmi.PhysicalMemory;
import io.vmguard.vmi.VcpuState;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Writes what a {@link GuestView} sees as an ELF core file in QEMU's {@code dump-guest-memory} layout (see
 * the package documentation). Use it inside {@code Vm.inspect}, so that registers and memory are one moment:
 *
 * <pre>{@code
 * DumpResult result = vm.inspect(view -> new ElfCoreWriter(options).write(view, path));
 * }</pre>
 */
public final class ElfCoreWriter {
    private final DumpOptions options;

    public ElfCoreWriter() {
        this(DumpOptions.defaults());
    }

    public ElfCoreWriter(DumpOptions options) {
        this.options = Objects.requireNonNull(options);
    }

    /**
     * Writes the dump to {@code target}, replacing it in one rename; never throws for a bad path, a full disk
     * or unreadable memory: those come back as {@link DumpResult.Failed} with a one-line message.
     */
    public DumpResult write(GuestView view, Path target) {
        return write(view, target, StagedFile::beside);
    }

    /** As {@link #write(GuestView, Path)}, the bytes going through a sink {@code opener} makes (a sealed one, say). */
    public DumpResult write(GuestView view, Path target, DumpSink.Opener opener) {
        Optional<String> problem = targetProblem(target);
        if (problem.isPresent()) {
            return new DumpResult.Failed(problem.get());
        }
        List<VcpuState> vcpus = view.vcpus();
        List<PhysicalMemory.Range> ranges = view.memory().ranges();
        try {
            CoreLayout layout = CoreLayout.of(ranges, notes(vcpus));
            long stored;
            try (DumpSink file = opener.open(target)) {
                file.write(layout.headers(), 0);
                file.write(layout.notesSegment(), layout.notesOffset());
                stored = new SparseMemoryCopy(view.memory(), file, options.progress()).copy(layout.loads());
                file.extendTo(layout.fileSize());
                file.commit();
            }
            return new DumpResult.Written(target, layout.fileSize(), layout.memoryBytes(), stored, vcpus.size(),
                    layout.loads().size());
        } catch (DumpException e) {
            return new DumpResult.Failed("cannot dump guest memory to " + target + ": " + e.getMessage());
        } catch (IOException e) {
            return new DumpResult.Failed("cannot write the dump " + target + ": " + describe(e));
        }
    }

    /**
     * Why {@code target} cannot take a dump, checked before anything is written (and, inside an inspection,
     * before the guest is held longer than needed); empty when it looks writable.
     */
    public static Optional<String> targetProblem(Path target) {
        Path absolute = target.toAbsolutePath();
        Path directory = absolute.getParent();
        if (directory == null) {
            return Optional.of("cannot write the dump " + target + ": it is not a file name");
        }
        if (Files.isDirectory(absolute)) {
            return Optional.of("cannot write the dump " + target + ": it is a directory");
        }
        if (!Files.isDirectory(directory)) {
            return Optional.of("cannot write the dump " + target + ": directory " + directory + " does not exist");
        }
        if (!Files.isWritable(directory)) {
            return Optional.of("cannot write the dump " + target + ": directory " + directory + " is not writable");
        }
        return Optional.empty();
    }

    /** QEMU's note order: every vCPU's NT_PRSTATUS, then every vCPU's QEMU note, then the guest's own note. */
    private List<ElfNote> notes(List<VcpuState> vcpus) {
        List<ElfNote> notes = new ArrayList<>();
        vcpus.forEach(vcpu -> notes.add(X86CpuNotes.prStatus(vcpu)));
        vcpus.forEach(vcpu -> notes.add(X86CpuNotes.qemuCpuState(vcpu)));
        options.vmcoreInfo().ifPresent(text ->
                notes.add(new ElfNote("VMCOREINFO", 0, text.getBytes(StandardCharsets.US_ASCII))));
        return notes;
    }

    /** The reason without Java's decoration (exception class names, stack traces). */
    private static String describe(IOException e) {
        return switch (e) {
            case NoSuchFileException missing -> "no such file or directory: " + missing.getFile();
            case AccessDeniedException denied -> "permission denied: " + denied.getFile();
            case FileSystemException other when other.getReason() != null -> other.getReason();
            default -> Objects.requireNonNullElse(e.getMessage(), e.getClass().getSimpleName());
        };
    }
}
