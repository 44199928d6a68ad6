package io.vlm4j.eval.analysis;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler.LegendPosition;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The curves of a training run as one PNG: training loss per step (left) and accuracy (right: per step on the training
 * batches, per epoch on the validation set).
 */
public final class TrainingCurves {
    private TrainingCurves() {}

    /**
     * @param steps    optimizer step of each training point
     * @param loss     training loss per step
     * @param accuracy training-batch accuracy per step
     * @param valSteps step at the end of each epoch (validation points), may be empty
     * @param valAcc   validation accuracy per epoch (NaN: none)
     */
    public static void write(Path png, double[] steps, double[] loss, double[] accuracy, double[] valSteps, double[] valAcc, double[] valLoss,
                             String title, String caption) throws IOException {
        int w = 1400, h = 560;
        XYChart left = chart(w / 2, "step", "loss");
        XYSeries tl = left.addSeries("train loss", steps, loss);
        tl.setMarker(SeriesMarkers.NONE);
        double[][] vl = finite(valSteps, valLoss);
        if (vl[0].length > 0) left.addSeries("val loss", vl[0], vl[1]).setMarker(SeriesMarkers.CIRCLE);
        XYChart right = chart(w / 2, "step", "accuracy");
        XYSeries ta = right.addSeries("train batch accuracy", steps, accuracy);
        ta.setMarker(SeriesMarkers.NONE);
        ta.setLineColor(new Color(0x9ecae1));
        double[][] va = finite(valSteps, valAcc);
        if (va[0].length > 0) right.addSeries("val accuracy", va[0], va[1]).setMarker(SeriesMarkers.CIRCLE);
        BufferedImage img = PlotImages.compose((Graphics2D g, int width, int height) -> {
            left.paint(g, width / 2, height);
            Graphics2D g2 = (Graphics2D) g.create(width / 2, 0, width - width / 2, height);
            try {
                right.paint(g2, width - width / 2, height);
            } finally {
                g2.dispose();
            }
        }, w, h, title, caption);
        PlotImages.writePng(png, img);
    }

    private static XYChart chart(int width, String x, String y) {
        XYChart c = new XYChart(width, 400);
        var s = c.getStyler();
        s.setChartTitleVisible(false);
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotBackgroundColor(Color.WHITE);
        s.setPlotBorderColor(Color.GRAY);
        s.setPlotGridLinesColor(new Color(0xE6E6E6));
        s.setLegendPosition(LegendPosition.InsideNE);
        s.setLegendFont(PlotImages.CHART_FONT);
        s.setAxisTitleFont(PlotImages.CHART_FONT);
        s.setAxisTickLabelsFont(PlotImages.CHART_FONT.deriveFont(11f));
        s.setAntiAlias(true);
        c.setXAxisTitle(x);
        c.setYAxisTitle(y);
        return c;
    }

    private static double[][] finite(double[] xs, double[] ys) {
        int n = 0;
        for (int i = 0; i < xs.length; i++) if (Double.isFinite(ys[i])) n++;
        double[][] out = new double[2][n];
        for (int i = 0, k = 0; i < xs.length; i++) {
            if (!Double.isFinite(ys[i])) continue;
            out[0][k] = xs[i];
            out[1][k++] = ys[i];
        }
        return out;
    }
}
