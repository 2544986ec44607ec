package io.vmguard.vmi.linux;

/**
 * Where the kallsyms tables of a Linux 6.10+ kernel sit in guest-virtual memory, in the order
 * {@code scripts/kallsyms.c} (6.12, {@code write_src}) emits them, each label 8-aligned:
 * num_syms, names, markers, token_table, token_index, offsets, relative_base, seqs_of_names.
 *
 * @param count        kallsyms_num_syms
 * @param namesLength  bytes of the compressed names stream
 */
public record KallsymsTables(int count, long numSyms, long names, int namesLength, long markers, long tokenTable,
                             long tokenIndex, long offsets, long relativeBase, long seqsOfNames) {
}
