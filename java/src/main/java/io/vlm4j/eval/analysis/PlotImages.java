package io.vlm4j.eval.analysis;

import io.vlm4j.io.AtomicFiles;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/**
 * What the plots share: a header (bold title, wrapped caption) drawn above an XChart chart onto one off-screen image,
 * and the atomic PNG write. Only {@link BufferedImage}s are drawn, never a window, so this works headless.
 */
final class PlotImages {
    static final Font TITLE_FONT = new Font(Font.SANS_SERIF, Font.BOLD, 20);
    static final Font CAPTION_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 14);
    static final Font CHART_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
    private static final int MARGIN = 16;

    private PlotImages() {}

    /** An XChart chart's {@code paint(Graphics2D, width, height)}, passed as {@code chart::paint}. */
    @FunctionalInterface
    interface Painter {
        void paint(Graphics2D g, int width, int height);
    }

    /** A {@code width × height} image: title and caption lines on top, the chart filling the rest. */
    static BufferedImage compose(Painter chart, int width, int height, String title, String caption) {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            g.setColor(Color.BLACK);
            int y = MARGIN;
            y = drawLines(g, TITLE_FONT, title, width, y);
            y = drawLines(g, CAPTION_FONT, caption, width, y);
            int header = y + MARGIN / 2;
            if (height - header < 100) throw new IllegalArgumentException("plot height " + height + " leaves no room under the title");
            Graphics2D chartG = (Graphics2D) g.create(0, header, width, height - header);
            try {
                chart.paint(chartG, width, height - header);
            } finally {
                chartG.dispose();
            }
        } finally {
            g.dispose();
        }
        return image;
    }

    /** Draws {@code text} word-wrapped to the width (explicit newlines kept); returns the y below it. */
    private static int drawLines(Graphics2D g, Font font, String text, int width, int y) {
        if (text == null || text.isBlank()) return y;
        g.setFont(font);
        FontMetrics fm = g.getFontMetrics();
        for (String line : wrap(text, fm, width - 2 * MARGIN)) {
            y += fm.getAscent();
            g.drawString(line, MARGIN, y);
            y += fm.getDescent() + fm.getLeading() + 2;
        }
        return y;
    }

    private static List<String> wrap(String text, FontMetrics fm, int maxWidth) {
        List<String> lines = new ArrayList<>();
        for (String paragraph : text.split("\n")) {
            StringBuilder line = new StringBuilder();
            for (String word : paragraph.split(" ")) {
                String candidate = line.length() == 0 ? word : line + " " + word;
                if (line.length() > 0 && fm.stringWidth(candidate) > maxWidth) {
                    lines.add(line.toString());
                    line = new StringBuilder(word);
                } else {
                    line = new StringBuilder(candidate);
                }
            }
            lines.add(line.toString());
        }
        return lines;
    }

    /** PNG through {@link AtomicFiles}: a reader never sees a half-written file. */
    static void writePng(Path path, BufferedImage image) throws IOException {
        AtomicFiles.write(path, out -> {
            // An in-memory cache: ImageIO's default would stage the stream in a file under java.io.tmpdir.
            try (MemoryCacheImageOutputStream ios = new MemoryCacheImageOutputStream(out)) {
                if (!ImageIO.write(image, "png", ios)) throw new IOException("no PNG writer in this JRE");
            }
        });
    }
}
