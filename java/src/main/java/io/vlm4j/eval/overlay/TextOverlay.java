package io.vlm4j.eval.overlay;

import io.vlm4j.image.ImageDecoder;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.Shape;
import java.awt.font.FontRenderContext;
import java.awt.font.TextLayout;
import java.awt.geom.AffineTransform;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.util.Locale;

/**
 * Draws a string onto an 8-bit RGB image, the way typographic attacks on CLIP and the "text on medical images" bias
 * studies do: white sans-serif letters with a black outline (legible on any background), anti-aliased, at a size
 * given as a fraction of the image height and at one of a few positions. Pure Java2D, headless.
 */
public final class TextOverlay {
    private TextOverlay() {}

    /** Where the text's bounding box goes; the margin is 4% of the image's shorter side. */
    public enum Position {
        CENTER, TOP_LEFT, TOP_RIGHT, BOTTOM_LEFT, BOTTOM_RIGHT;

        public static Position parse(String s) {
            return valueOf(s.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
        }
    }

    /** One overlay: the text, its cap height as a fraction of the image height, and its position. */
    public record Spec(String text, double relativeSize, Position position) {
        public Spec {
            if (text == null || text.isBlank()) throw new IllegalArgumentException("overlay text is empty");
            if (!(relativeSize > 0 && relativeSize <= 1)) {
                throw new IllegalArgumentException("overlay size must be in (0, 1] of the image height, got " + relativeSize);
            }
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "\"%s\" %.0f%% %s", text, 100 * relativeSize, position.name().toLowerCase(Locale.ROOT));
        }
    }

    /**
     * A copy of {@code image} (8-bit, 1 or 3 channels) with the text drawn in; always 3 channels. Text wider than
     * the image is shrunk to fit (the requested size is an upper bound).
     */
    public static ImageDecoder.Decoded render(ImageDecoder.Decoded image, Spec spec) {
        int h = image.height(), w = image.width(), c = image.channels();
        if (c != 1 && c != 3) throw new IllegalArgumentException("overlay: images must have 1 or 3 channels, got " + c);
        BufferedImage canvas = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        byte[] bgr = ((DataBufferByte) canvas.getRaster().getDataBuffer()).getData();
        byte[] px = image.pixels();
        for (int p = 0; p < h * w; p++) {  // RGB (or gray) -> BGR
            for (int k = 0; k < 3; k++) bgr[3 * p + k] = px[c == 1 ? p : 3 * p + 2 - k];
        }
        Graphics2D g = canvas.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_FRACTIONALMETRICS, RenderingHints.VALUE_FRACTIONALMETRICS_ON);
            FontRenderContext frc = g.getFontRenderContext();
            float target = (float) (spec.relativeSize() * h);
            Font font = new Font(Font.SANS_SERIF, Font.BOLD, 100);
            TextLayout probe = new TextLayout(spec.text(), font, frc);
            Rectangle2D b = probe.getBounds();
            float margin = 0.04f * Math.min(w, h);
            // scale so the ink height is the target and the width fits inside the margins
            float scale = (float) Math.min(target / Math.max(b.getHeight(), 1e-3), (w - 2 * margin) / Math.max(b.getWidth(), 1e-3));
            TextLayout layout = new TextLayout(spec.text(), font.deriveFont(100 * scale), frc);
            Rectangle2D ink = layout.getBounds();
            double x, y;  // position of the ink box's top-left corner
            switch (spec.position()) {
                case TOP_LEFT -> { x = margin; y = margin; }
                case TOP_RIGHT -> { x = w - margin - ink.getWidth(); y = margin; }
                case BOTTOM_LEFT -> { x = margin; y = h - margin - ink.getHeight(); }
                case BOTTOM_RIGHT -> { x = w - margin - ink.getWidth(); y = h - margin - ink.getHeight(); }
                default -> { x = (w - ink.getWidth()) / 2; y = (h - ink.getHeight()) / 2; }
            }
            Shape outline = layout.getOutline(AffineTransform.getTranslateInstance(x - ink.getX(), y - ink.getY()));
            g.setColor(Color.BLACK);
            g.setStroke(new BasicStroke(Math.max(1f, 0.12f * (float) ink.getHeight()), BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
            g.draw(outline);
            g.setColor(Color.WHITE);
            g.fill(outline);
        } finally {
            g.dispose();
        }
        byte[] rgb = new byte[h * w * 3];
        for (int p = 0; p < h * w; p++) {
            for (int k = 0; k < 3; k++) rgb[3 * p + k] = bgr[3 * p + 2 - k];
        }
        return new ImageDecoder.Decoded(rgb, h, w, 3, false);
    }
}
