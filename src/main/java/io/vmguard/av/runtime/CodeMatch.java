package io.vmguard.av.runtime;

/**
 * A signature that matched guest code: where, as an offset into the 4 KiB frame being executed (negative or
 * past 4096 when the match starts or ends in a neighbouring page of the same mapping).
 */
record CodeMatch(String signature, String database, long frameOffset) {}
