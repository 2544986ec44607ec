package io.vmguard.av.match;

import java.util.List;

/**
 * What offset rules resolve against: the file's size, its entry point as a FILE offset (-1 when none) and its
 * sections (ELF: the section headers, counting from 0 with the NULL section).
 */
public record FileLayout(long size, long entryPoint, List<Section> sections) {
    public record Section(long offset, long size) {}

    public FileLayout {
        sections = List.copyOf(sections);
    }

    /** Raw bytes: no entry point, no sections. */
    public static FileLayout raw(long size) {
        return new FileLayout(size, -1, List.of());
    }
}
