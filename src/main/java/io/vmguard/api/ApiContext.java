package io.vmguard.api;

import io.vmguard.events.EventHub;
import io.vmguard.events.VmEvents;

/**
 * What the endpoints work on: the instance, the event hub streams subscribe to, the VM's event door
 * (the API's own events go through it too), and the API's counters and outputs.
 */
public record ApiContext(Instance instance, EventHub hub, VmEvents events, ApiCounters counters, MetricsOutput metrics,
                         LogOutput logger) {
    public ApiContext(Instance instance, EventHub hub, VmEvents events) {
        this(instance, hub, events, new ApiCounters(), new MetricsOutput(), new LogOutput(events));
    }
}
