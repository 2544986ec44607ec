package io.vmguard.interference;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Median, percentiles and spread of a small list of measurements. */
public record Figures(int count, double median, double min, double max, double p90, double p99) {
    public static final Figures NONE = new Figures(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);

    public static Figures of(List<Double> values) {
        if (values.isEmpty()) {
            return NONE;
        }
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return new Figures(sorted.size(), percentile(sorted, 0.5), sorted.getFirst(), sorted.getLast(), percentile(sorted, 0.9),
                percentile(sorted, 0.99));
    }

    /** Linear interpolation between closest ranks (sorted input). */
    static double percentile(List<Double> sorted, double fraction) {
        double position = fraction * (sorted.size() - 1);
        int below = (int) Math.floor(position);
        int above = Math.min(sorted.size() - 1, below + 1);
        return sorted.get(below) + (sorted.get(above) - sorted.get(below)) * (position - below);
    }
}
