package io.vlm4j.eval.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scatter and bar charts come out as PNGs of the requested size, written atomically, in the palette's colours.
 * With {@code -Dvlm4j.analysis.plots=DIR} the plots are also left in DIR for a look.
 */
class PlotTest {
    @TempDir
    Path dir;

    private Path out(String name) throws IOException {
        String keep = System.getProperty("vlm4j.analysis.plots");
        if (keep == null || keep.isBlank()) return dir.resolve(name);
        Files.createDirectories(Path.of(keep));
        return Path.of(keep).resolve(name);
    }

    private static List<Path> listing(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.sorted().toList();
        }
    }

    /** Whether some pixel has the class colour as drawn: alpha-blended over white, within rounding. */
    private static boolean hasColour(BufferedImage img, Color c, double alpha) {
        int r = (int) Math.round(c.getRed() * alpha + 255 * (1 - alpha));
        int g = (int) Math.round(c.getGreen() * alpha + 255 * (1 - alpha));
        int b = (int) Math.round(c.getBlue() * alpha + 255 * (1 - alpha));
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                int p = img.getRGB(x, y);
                if (Math.abs(((p >> 16) & 255) - r) <= 2 && Math.abs(((p >> 8) & 255) - g) <= 2 && Math.abs((p & 255) - b) <= 2) {
                    return true;
                }
            }
        }
        return false;
    }

    @Test
    void scatterPlotIsAPngOfTheRequestedSizeInThePaletteColours() throws IOException {
        LabeledEmbeddings data = SeparabilityMetricsTest.gaussianClasses(new Random(21), 12, 40, 24, 1.2);
        SeparabilityReport report = SeparabilityMetrics.compute(data);
        Projection pca = Projection.pca(data);
        ScatterPlot.Style style = ScatterPlot.Style.defaults();
        Path png = out("scatter_pca.png");
        ScatterPlot.write(png, pca, data, "synthetic-model · PCA", report.summaryLine() + "\n" + pca.details(), style);

        BufferedImage img = ImageIO.read(png.toFile());
        assertNotNull(img, "ImageIO cannot read " + png);
        assertEquals(style.width(), img.getWidth());
        assertEquals(style.height(), img.getHeight());
        for (int c : new int[] {0, 1, 5, 8}) {
            assertTrue(hasColour(img, ClassPalette.color(c), style.alpha()), "no pixel in the colour of class " + c);
        }
        assertEquals(List.of(png), listing(png.getParent()).stream().filter(p -> p.getFileName().toString().contains("scatter_pca")).toList(),
                "a temporary file was left beside the plot");

        Projection tsne = Projection.tsne(data, Tsne.Options.defaults().withMaxIter(500));
        ScatterPlot.write(out("scatter_tsne.png"), tsne, data, "synthetic-model · t-SNE", report.summaryLine() + "\n" + tsne.details(), style);
        assertNotNull(ImageIO.read(out("scatter_tsne.png").toFile()));
    }

    @Test
    void writesAreAtomic() throws IOException {
        LabeledEmbeddings data = SeparabilityMetricsTest.gaussianClasses(new Random(2), 3, 20, 4, 2.0);
        Projection p = Projection.pca(data);
        Path png = dir.resolve("plot.png");
        ScatterPlot.write(png, p, data, "first", "", new ScatterPlot.Style(400, 300, 5, 1));
        // an overwrite replaces the whole file, and leaves nothing else in the directory
        ScatterPlot.write(png, p, data, "second", "", new ScatterPlot.Style(640, 480, 5, 1));
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(640, img.getWidth());
        assertEquals(480, img.getHeight());
        assertEquals(List.of(png), listing(dir));
        // a write that fails (no such directory) creates nothing
        Path missing = dir.resolve("no-such-dir").resolve("plot.png");
        assertThrows(IOException.class, () -> ScatterPlot.write(missing, p, data, "t", "", ScatterPlot.Style.defaults()));
        assertEquals(List.of(png), listing(dir));
    }

    @Test
    void barChartOfAMetricPerModel() throws IOException {
        Map<String, double[]> series = new LinkedHashMap<>();
        series.put("silhouette (cosine)", new double[] {0.08, 0.21, 0.17});
        series.put("10-NN purity", new double[] {0.61, 0.83, 0.79});
        Path png = out("bar_metrics.png");
        BarChart.write(png, "Separability on a chest X-ray set", "score", List.of("clip-vit-b32", "biomedclip", "pubmedclip"),
                series, 900, 600);
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(900, img.getWidth());
        assertEquals(600, img.getHeight());
        assertTrue(hasColour(img, ClassPalette.color(0), 1.0));
        assertTrue(hasColour(img, ClassPalette.color(1), 1.0));
        assertThrows(IllegalArgumentException.class,
                () -> BarChart.render("t", "y", List.of("a", "b"), Map.of("s", new double[] {1}), 400, 300));
    }
}
