/**
 * ClamAV body signatures and the multi-pattern matcher of vmguard's antivirus.
 *
 * <p>{@link io.vmguard.av.match.BodyPattern} parses ClamAV's hex body syntax with ClamAV's rules
 * ({@code readdb.c}, {@code matcher-ac.c}); {@link io.vmguard.av.match.OffsetRule} the offset field;
 * {@link io.vmguard.av.match.PatternOptions} the ldb modifiers, applied as ClamAV's loader rewrites the body.
 *
 * <p>{@link io.vmguard.av.match.MultiMatcher} compiles many patterns once:
 * <ul>
 * <li>A pattern is cut at its unbounded gaps ({@code *}, {@code {n-}}) into segments; each segment is a small
 *     program for a backtracking verifier (alternatives, nibbles, bounded gaps, markers).
 * <li>Each segment is found through one anchor: the 2-4 static bytes (or a few spellings of them, for nocase
 *     letters and nibbles) with the fewest expected false hits, at a bounded distance from the segment's start.
 * <li>The scan reads each position's 4 bytes once and tests a blocked Bloom filter per anchor length (one
 *     64-bit word, two bits); survivors look the exact key up in a hash table and verify the programs found
 *     there (2-byte anchors: a plain bitmap and a direct index). Each entry carries a confirm word, more fixed
 *     bytes at a known distance from the anchor, tested before the verifier runs. The cost per byte does not
 *     depend on the number of patterns, only on the false-hit rate.
 * <li>Segments after the first are kept only after an occurrence of the previous segment that they may
 *     follow; after the scan, every occurrence of a first segment with a complete chain is reported with the
 *     least end of such a chain. Unlike ClamAV, which remembers only the first and last 8 occurrences of each
 *     earlier part, every occurrence counts, so no real match is missed.
 * <li>Patterns restricted to a narrow window ({@code n}, {@code EOF-n}, {@code EP+n}, {@code Sx+n}, {@code SL+n}
 *     with maxshift up to 64) are verified at that window without the prefilter.
 * </ul>
 *
 * <p>ClamAV's semantics kept on purpose: a leading {@code aa[x-y]} and a trailing {@code [x-y]aa} are conditions
 * outside the match (the offset, the gaps and the markers refer to the part between them); (B), (L), (W) at the
 * start or end of any part are zero-width edge tests, elsewhere they consume the byte(s) they describe; the
 * boundary table of (B) is ClamAV's. Where they differ: every occurrence is reported (see above); a marker right
 * before a trailing bracket ({@code 616263(B)[1-1]64}) is an edge test here, while clamscan 1.4.6 matches such a
 * signature nowhere we tried.
 */
package io.vmguard.av.match;
