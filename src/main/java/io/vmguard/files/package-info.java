/**
 * Files replaced durably: written under a temporary name beside their target, forced to disk, renamed over
 * the target, and the directory synced, so a crash at any point leaves either the old file or the new one.
 * Snapshots, dumps and sealed files all go through {@link io.vmguard.files.StagedFile}.
 */
package io.vmguard.files;
