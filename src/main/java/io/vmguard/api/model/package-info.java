/**
 * The control API's request and response bodies, as records. JSON names are the components' names in
 * snake_case (Firecracker's); a {@code null} component is a field the request left out. Each record checks
 * only what a field alone can tell (present, not blank, one of a few words); whether a request fits the
 * VM's state is {@code PreBootConfig}'s and {@code Instance}'s to say.
 */
package io.vmguard.api.model;
