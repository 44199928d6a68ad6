package io.vlm4j.eval.analysis;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategorySeries;
import org.knowm.xchart.style.Styler.LegendPosition;

/**
 * A grouped bar chart as PNG for comparison reports: one group per category (a model, say), one bar per series (a
 * metric or a data set), values printed on the bars, colours from {@link ClassPalette}. Written atomically.
 */
public final class BarChart {
    private BarChart() {}

    /**
     * @param categories x-axis groups, e.g. model names
     * @param series     bar series in legend order, each with one value per category
     */
    public static void write(Path png, String title, String yTitle, List<String> categories, Map<String, double[]> series,
                             int width, int height) throws IOException {
        PlotImages.writePng(png, render(title, yTitle, categories, series, width, height));
    }

    /** One series: a value per category, e.g. the silhouette of each model. */
    public static void write(Path png, String title, String yTitle, List<String> categories, double[] values,
                             int width, int height) throws IOException {
        Map<String, double[]> one = new LinkedHashMap<>();
        one.put(yTitle, values);
        write(png, title, yTitle, categories, one, width, height);
    }

    public static BufferedImage render(String title, String yTitle, List<String> categories, Map<String, double[]> series,
                                       int width, int height) {
        if (categories.isEmpty() || series.isEmpty()) throw new IllegalArgumentException("bar chart: no categories or no series");
        CategoryChart chart = new CategoryChart(width, height);
        var s = chart.getStyler();
        s.setChartTitleVisible(false);
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotBackgroundColor(Color.WHITE);
        s.setPlotBorderColor(Color.GRAY);
        s.setPlotGridLinesColor(new Color(0xE6E6E6));
        s.setPlotGridVerticalLinesVisible(false);
        s.setLegendVisible(series.size() > 1);
        s.setLegendPosition(LegendPosition.OutsideE);
        s.setLegendBorderColor(Color.LIGHT_GRAY);
        s.setLegendFont(PlotImages.CHART_FONT);
        s.setAxisTitleFont(PlotImages.CHART_FONT);
        s.setAxisTickLabelsFont(PlotImages.CHART_FONT.deriveFont(12f));
        s.setLabelsVisible(true);
        s.setLabelsFont(PlotImages.CHART_FONT.deriveFont(11f));
        s.setLabelsFontColorAutomaticEnabled(true);  // white on dark bars, black on light ones
        s.setLabelsPosition(0.93);                   // inside, near the end of the bar
        s.setDecimalPattern("0.###");
        s.setAntiAlias(true);
        s.setYAxisTitleVisible(true);
        s.setXAxisTitleVisible(false);
        chart.setYAxisTitle(yTitle);
        int k = 0;
        for (var entry : series.entrySet()) {
            if (entry.getValue().length != categories.size()) {
                throw new IllegalArgumentException("bar chart: series " + entry.getKey() + " has " + entry.getValue().length
                        + " values for " + categories.size() + " categories");
            }
            List<Double> values = Arrays.stream(entry.getValue()).boxed().toList();
            CategorySeries cs = chart.addSeries(entry.getKey(), categories, values);
            cs.setFillColor(ClassPalette.color(k++));
        }
        return PlotImages.compose(chart::paint, width, height, title, "");
    }
}
