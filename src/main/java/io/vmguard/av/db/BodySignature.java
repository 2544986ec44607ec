package io.vmguard.av.db;

import io.vmguard.av.match.BodyPattern;
import io.vmguard.av.match.OffsetRule;

/** An extended body signature (.ndb/.ndu): a hex pattern that must start where its offset rule allows. */
public record BodySignature(String name, Target target, OffsetRule offset, BodyPattern pattern, String database) {
}
