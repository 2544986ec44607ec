/**
 * Scanning an object with a loaded database: whole-file and PE-section hashes, body signatures through one
 * matcher per target type, logical signatures evaluated from subsignature counts, then the allow and ignore
 * lists. Executable layouts (ELF and PE headers) give the entry point and sections that EP/Sx/SL offsets and
 * target descriptions need, computed as ClamAV computes them.
 */
package io.vmguard.av.scan;
