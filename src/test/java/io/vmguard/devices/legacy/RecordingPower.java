package io.vmguard.devices.legacy;

import io.vmguard.devices.PowerControl;
import java.util.ArrayList;
import java.util.List;

/** A PowerControl that remembers what it was asked. */
final class RecordingPower implements PowerControl {
    final List<Integer> powerOffs = new ArrayList<>();
    int resets;

    @Override
    public void powerOff(int status) {
        powerOffs.add(status);
    }

    @Override
    public void reset() {
        resets++;
    }
}
