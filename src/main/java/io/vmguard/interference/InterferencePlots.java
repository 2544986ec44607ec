package io.vmguard.interference;

import java.awt.Color;
import java.awt.Rectangle;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.jfree.svg.SVGGraphics2D;
import org.jfree.svg.SVGUtils;

/**
 * The benchmark's plots, each as PNG and SVG: A's ping RTT distribution per scenario (CDF), A's throughput
 * against the number of CPU-bound neighbours (relative to alone), each mitigation against the goal, and the
 * run-queue wait of A's threads by role in each scenario.
 */
public final class InterferencePlots {
    static final int WIDTH = 900;
    static final int HEIGHT = 560;

    private InterferencePlots() {}

    /** Writes rtt-cdf, vs-neighbours, mitigations and runqueue-wait (.png and .svg) into {@code dir}; returns the files. */
    public static List<Path> write(InterferenceReport report, Path dir) throws IOException {
        System.setProperty("java.awt.headless", "true");
        Files.createDirectories(dir);
        List<Path> files = new ArrayList<>();
        files.addAll(save(rttCdf(report), dir, "rtt-cdf"));
        files.addAll(save(versusNeighbours(report), dir, "vs-neighbours"));
        files.addAll(save(mitigations(report), dir, "mitigations"));
        files.addAll(save(runQueueWait(report), dir, "runqueue-wait"));
        return files;
    }

    static JFreeChart rttCdf(InterferenceReport report) {
        XYSeriesCollection data = new XYSeriesCollection();
        for (ScenarioRun run : report.runs()) {
            List<Double> rtts = new ArrayList<>(run.log().allRtts());
            if (rtts.isEmpty()) {
                continue;
            }
            Collections.sort(rtts);
            XYSeries series = new XYSeries(run.name(), false, true);
            for (int i = 0; i < rtts.size(); i++) {
                series.add(Math.max(rtts.get(i), 0.001), (i + 1) / (double) rtts.size());
            }
            data.addSeries(series);
        }
        JFreeChart chart = ChartFactory.createXYLineChart("A's ping round-trip time, per scenario", "RTT (ms, log scale)",
                "fraction of pings at or below", data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        LogAxis axis = new LogAxis("RTT (ms, log scale)");
        axis.setSmallestValue(0.01);
        plot.setDomainAxis(axis);
        style(chart);
        return chart;
    }

    static JFreeChart versusNeighbours(InterferenceReport report) {
        ScenarioRun base = report.baseline();
        Map<String, XYSeries> series = new LinkedHashMap<>();
        for (ScenarioRun run : report.runs()) {
            if (base == null || !(run == base || run.kind().equals("cpu") && run.mitigation().equals("none"))) {
                continue;
            }
            add(series, "TCP throughput", run.neighbours(), InterferenceReport.ratio(run.tcp().median(), base.tcp().median()));
            add(series, "RR transactions/s", run.neighbours(), InterferenceReport.ratio(run.rrTps().median(), base.rrTps().median()));
            add(series, "1 / median ping RTT", run.neighbours(), InterferenceReport.ratio(base.rtt().median(), run.rtt().median()));
        }
        XYSeriesCollection data = new XYSeriesCollection();
        series.values().forEach(data::addSeries);
        JFreeChart chart = ChartFactory.createXYLineChart("A's network performance vs CPU-bound neighbours (1.0 = alone)",
                "CPU-bound neighbour VMs", "relative to alone", data, PlotOrientation.VERTICAL, true, false, false);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        chart.getXYPlot().setRenderer(renderer);
        style(chart);
        return chart;
    }

    /** Each scenario with CPU-bound neighbours, mitigated or not, against alone: the goal lines are 0.7 and 0.5. */
    static JFreeChart mitigations(InterferenceReport report) {
        ScenarioRun base = report.baseline();
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (ScenarioRun run : report.runs()) {
            if (base == null || !run.kind().equals("cpu")) {
                continue;
            }
            String label = run.mitigation().equals("none") ? run.name() : run.name() + " (" + run.mitigation() + ")";
            data.addValue(nanToZero(InterferenceReport.ratio(run.tcp().median(), base.tcp().median())), "TCP throughput", label);
            data.addValue(nanToZero(InterferenceReport.ratio(run.rrTps().median(), base.rrTps().median())), "RR transactions/s", label);
            data.addValue(nanToZero(InterferenceReport.ratio(base.rtt().median(), run.rtt().median())), "1 / median ping RTT", label);
        }
        JFreeChart chart = ChartFactory.createBarChart("With CPU-bound neighbours, and each mitigation (1.0 = alone; goal: TCP >= 0.7, 1/RTT >= 0.5)",
                "scenario", "relative to alone", data, PlotOrientation.VERTICAL, true, false, false);
        chart.getCategoryPlot().getDomainAxis().setCategoryLabelPositions(org.jfree.chart.axis.CategoryLabelPositions.UP_45);
        chart.getCategoryPlot().addRangeMarker(new org.jfree.chart.plot.ValueMarker(InterferenceReport.TCP_GOAL, Color.DARK_GRAY,
                new java.awt.BasicStroke(1.5f)));
        chart.getCategoryPlot().addRangeMarker(new org.jfree.chart.plot.ValueMarker(1 / InterferenceReport.RTT_GOAL, Color.GRAY,
                new java.awt.BasicStroke(1f, java.awt.BasicStroke.CAP_BUTT, java.awt.BasicStroke.JOIN_MITER, 1f, new float[] {6f, 4f}, 0f)));
        style(chart);
        return chart;
    }

    private static double nanToZero(double value) {
        return Double.isNaN(value) ? 0 : value;
    }

    private static void add(Map<String, XYSeries> series, String name, int x, double y) {
        if (!Double.isNaN(y)) {
            series.computeIfAbsent(name, key -> new XYSeries(key, true, false)).addOrUpdate(x, y);
        }
    }

    static JFreeChart runQueueWait(InterferenceReport report) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (ScenarioRun run : report.runs()) {
            for (String role : List.of("vcpu", "io", "other")) {
                data.addValue(run.waitMsPerSecond("a", role), "A " + role + " threads", run.name());
            }
        }
        JFreeChart chart = ChartFactory.createBarChart("Run-queue wait of A's threads (ms per second), per scenario", "scenario",
                "ms waited for a CPU per second", data, PlotOrientation.VERTICAL, true, false, false);
        chart.getCategoryPlot().getDomainAxis().setCategoryLabelPositions(
                org.jfree.chart.axis.CategoryLabelPositions.UP_45);
        style(chart);
        return chart;
    }

    private static void style(JFreeChart chart) {
        chart.setBackgroundPaint(Color.WHITE);
        chart.getPlot().setBackgroundPaint(new Color(248, 248, 248));
    }

    private static List<Path> save(JFreeChart chart, Path dir, String name) throws IOException {
        Path png = dir.resolve(name + ".png");
        Path svg = dir.resolve(name + ".svg");
        ChartUtils.saveChartAsPNG(png.toFile(), chart, WIDTH, HEIGHT);
        SVGGraphics2D g2 = new SVGGraphics2D(WIDTH, HEIGHT);
        chart.draw(g2, new Rectangle(0, 0, WIDTH, HEIGHT));
        SVGUtils.writeToSVG(svg.toFile(), g2.getSVGElement());
        return List.of(png, svg);
    }
}
