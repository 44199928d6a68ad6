package io.vlm4j.eval.analysis;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.XYSeries.XYSeriesRenderStyle;
import org.knowm.xchart.style.Styler.LegendPosition;

/**
 * A 2-D projection as a PNG scatter plot, one colour and marker per class ({@link ClassPalette}), legend on the right
 * with each class's point count, a bold title (say the model and the method) and a caption (say the metrics, e.g.
 * {@link SeparabilityReport#summaryLine()}) wrapped above the plot. Rendered off-screen with XChart; written atomically.
 */
public final class ScatterPlot {
    private ScatterPlot() {}

    /**
     * @param width      pixels
     * @param height     pixels
     * @param markerSize marker diameter in pixels
     * @param alpha      marker opacity in (0, 1]; below 1 shows where points pile up
     */
    public record Style(int width, int height, int markerSize, double alpha) {
        public Style {
            if (width < 200 || height < 200) throw new IllegalArgumentException("plot must be at least 200×200, got " + width + "×" + height);
            if (markerSize < 1) throw new IllegalArgumentException("markerSize must be >= 1");
            if (!(alpha > 0 && alpha <= 1)) throw new IllegalArgumentException("alpha must be in (0, 1], got " + alpha);
        }

        public static Style defaults() { return new Style(1100, 850, 6, 0.7); }
    }

    /** Renders and writes {@code png}; {@code caption} may be empty. The labels are those of {@code data}. */
    public static void write(Path png, Projection projection, LabeledEmbeddings data, String title, String caption, Style style)
            throws IOException {
        PlotImages.writePng(png, render(projection, data, title, caption, style));
    }

    public static BufferedImage render(Projection projection, LabeledEmbeddings data, String title, String caption, Style style) {
        return render(projection.points(), projection.pointLabels(data.labels()), data.classNames(),
                projection.xLabel(), projection.yLabel(), title, caption, style);
    }

    /**
     * @param points      {@code [M, 2]}
     * @param labels      {@code [M]}, indices into {@code classNames}
     */
    public static BufferedImage render(double[][] points, int[] labels, List<String> classNames, String xTitle, String yTitle,
                                       String title, String caption, Style style) {
        if (points.length != labels.length) throw new IllegalArgumentException(points.length + " points but " + labels.length + " labels");
        XYChart chart = new XYChart(style.width(), style.height());
        var s = chart.getStyler();
        s.setDefaultSeriesRenderStyle(XYSeriesRenderStyle.Scatter);
        s.setChartTitleVisible(false);
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotBackgroundColor(Color.WHITE);
        s.setPlotBorderColor(Color.GRAY);
        s.setPlotGridLinesColor(new Color(0xE6E6E6));
        s.setLegendPosition(LegendPosition.OutsideE);
        s.setLegendBorderColor(Color.LIGHT_GRAY);
        s.setLegendFont(PlotImages.CHART_FONT);
        s.setAxisTitleFont(PlotImages.CHART_FONT);
        s.setAxisTickLabelsFont(PlotImages.CHART_FONT.deriveFont(11f));
        s.setMarkerSize(style.markerSize());
        s.setAntiAlias(true);
        chart.setXAxisTitle(xTitle);
        chart.setYAxisTitle(yTitle);

        int[] counts = new int[classNames.size()];
        for (int l : labels) {
            if (l < 0 || l >= classNames.size()) throw new IllegalArgumentException("label " + l + " outside [0, " + classNames.size() + ")");
            counts[l]++;
        }
        Set<String> names = new HashSet<>();
        for (int c = 0; c < classNames.size(); c++) {
            if (counts[c] == 0) continue;
            double[] xs = new double[counts[c]], ys = new double[counts[c]];
            for (int i = 0, k = 0; i < labels.length; i++) {
                if (labels[i] != c) continue;
                xs[k] = points[i][0];
                ys[k++] = points[i][1];
            }
            String name = classNames.get(c) + " (" + counts[c] + ")";
            if (!names.add(name)) name = name + " #" + c;  // XChart needs distinct series names
            XYSeries series = chart.addSeries(name, xs, ys);
            series.setMarker(ClassPalette.marker(c));
            series.setMarkerColor(ClassPalette.color(c, style.alpha()));
        }
        return PlotImages.compose(chart::paint, style.width(), style.height(), title, caption);
    }
}
