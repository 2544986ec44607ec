/**
 * The antivirus: ClamAV's signature databases, matched by vmguard's own engine. {@link io.vmguard.av.SignatureDatabase}
 * loads them (every bad line a {@link io.vmguard.av.LoadProblem}, never a failed load) and
 * {@link io.vmguard.av.Scanner} scans files, byte ranges and raw guest memory with them.
 * Subpackages: {@code db} (the formats and containers), {@code match} (body patterns and the multi-pattern
 * matcher), {@code scan} (hashes, logical signatures, executable layouts), {@code runtime} (guest code
 * scanned before it runs). Usable on its own: nothing here knows a VM, only the monitoring contract and guest
 * memory (runtime).
 */
package io.vmguard.av;
