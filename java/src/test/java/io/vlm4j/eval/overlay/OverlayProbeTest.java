package io.vlm4j.eval.overlay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.eval.ZeroShotHead;
import io.vlm4j.image.ImageDecoder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class OverlayProbeTest {
    static ImageDecoder.Decoded gray(int h, int w, int value) {
        byte[] px = new byte[h * w];
        java.util.Arrays.fill(px, (byte) value);
        return new ImageDecoder.Decoded(px, h, w, 1, false);
    }

    static double whiteFraction(ImageDecoder.Decoded d, int y0, int y1, int x0, int x1) {
        int white = 0, c = d.channels();
        for (int y = y0; y < y1; y++) {
            for (int x = x0; x < x1; x++) if ((d.pixels()[c * (y * d.width() + x)] & 0xff) > 200) white++;
        }
        return (double) white / ((y1 - y0) * (x1 - x0));
    }

    @Test
    void textIsDrawnWhereAskedAndNowhereElse() {
        ImageDecoder.Decoded img = gray(100, 160, 90);
        ImageDecoder.Decoded c = TextOverlay.render(img, new TextOverlay.Spec("Pneumonia", 0.2, TextOverlay.Position.CENTER));
        assertEquals(3, c.channels());
        assertEquals(100, c.height());
        assertEquals(160, c.width());
        assertTrue(whiteFraction(c, 40, 60, 20, 140) > 0.15, "white letters in the centre band");
        assertEquals(0.0, whiteFraction(c, 0, 25, 0, 160), "nothing drawn near the top");
        // corners: bottom-right text leaves the top-left quadrant untouched and the gray background intact there
        ImageDecoder.Decoded br = TextOverlay.render(img, new TextOverlay.Spec("abnormal", 0.15, TextOverlay.Position.BOTTOM_RIGHT));
        assertTrue(whiteFraction(br, 70, 100, 80, 160) > 0.05);
        assertEquals(0.0, whiteFraction(br, 0, 50, 0, 80));
        assertEquals(90, br.pixels()[0] & 0xff);
        // a long text is shrunk to fit inside the image
        ImageDecoder.Decoded wide = TextOverlay.render(img, new TextOverlay.Spec("a very long overlay text indeed", 0.5, TextOverlay.Position.CENTER));
        assertEquals(0.0, whiteFraction(wide, 0, 100, 0, 3), "left margin untouched");
        assertEquals(0.0, whiteFraction(wide, 0, 100, 157, 160), "right margin untouched");
    }

    @Test
    void badSpecsAreNamed() {
        assertThrows(IllegalArgumentException.class, () -> new TextOverlay.Spec(" ", 0.1, TextOverlay.Position.CENTER));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new TextOverlay.Spec("x", 0, TextOverlay.Position.CENTER));
        assertTrue(e.getMessage().contains("size"), e.getMessage());
        assertEquals(TextOverlay.Position.BOTTOM_RIGHT, TextOverlay.Position.parse("bottom-right"));
        assertThrows(IllegalArgumentException.class, () -> TextOverlay.render(new ImageDecoder.Decoded(new byte[8], 2, 2, 2, false),
                new TextOverlay.Spec("x", 0.5, TextOverlay.Position.CENTER)));
    }

    /**
     * A stand-in model whose embedding direction follows the amount of white ink: text pulls images from class 1
     * ("dark") to class 0 ("ink"), more for bigger text. The probe's numbers must say so.
     */
    @Test
    void probeMeasuresShiftFlipsAndPull() {
        List<ImageDecoder.Decoded> images = new ArrayList<>();
        for (int i = 0; i < 6; i++) images.add(gray(64, 64, 10 + i));
        int[] labels = {1, 1, 1, 1, 1, 0};
        ZeroShotHead w = ZeroShotHead.fromWeights(new double[][] {{1, 0}, {0, 1}}, 1);
        OverlayProbe.Embedder inkModel = ims -> {
            float[][] out = new float[ims.size()][];
            for (int i = 0; i < ims.size(); i++) {
                double ink = whiteFraction(ims.get(i), 0, 64, 0, 64);
                double a = 20 * ink, b = 1, norm = Math.hypot(a, b);
                out[i] = new float[] {(float) (a / norm), (float) (b / norm)};
            }
            return out;
        };
        List<OverlayProbe.Variant> variants = List.of(
                new OverlayProbe.Variant(new TextOverlay.Spec("ink", 0.02, TextOverlay.Position.CENTER), OverlayProbe.Kind.CLASS_NAME, 0),
                new OverlayProbe.Variant(new TextOverlay.Spec("ink", 0.3, TextOverlay.Position.CENTER), OverlayProbe.Kind.CLASS_NAME, 0),
                new OverlayProbe.Variant(new TextOverlay.Spec("tree", 0.3, TextOverlay.Position.TOP_LEFT), OverlayProbe.Kind.RANDOM_WORD, -1));
        int[] progress = {0};
        OverlayProbe.Report r = OverlayProbe.run(images, labels, w, inkModel, variants, k -> progress[0] += k);
        assertEquals(18, progress[0]);
        assertEquals(5.0 / 6, r.cleanAccuracy(), 1e-12);  // every clean image is "dark"
        OverlayProbe.VariantResult small = r.variants().get(0), big = r.variants().get(1), word = r.variants().get(2);
        assertTrue(small.meanCosine() > big.meanCosine(), small + " vs " + big);
        assertEquals(1.0, big.flipRate(), 1e-12);
        assertEquals(1.0, big.pulledRate(), 1e-12);
        assertEquals(1.0 / 6, big.accuracy(), 1e-12);
        assertTrue(Double.isNaN(word.pulledRate()));
        assertEquals(3, r.byKind().get(OverlayProbe.Kind.CLASS_NAME).variants() + r.byKind().get(OverlayProbe.Kind.RANDOM_WORD).variants());
        assertTrue(r.byKind().get(OverlayProbe.Kind.CLASS_NAME).flipRate() >= 0.5);
    }

    @Test
    void defaultSetCoversEveryKindSizeAndPosition() {
        List<OverlayProbe.Variant> v = OverlayProbe.defaultVariants(List.of("normal", "pneumonia"), 1);
        assertEquals(2 * 2 * (2 + 3 + 2), v.size());
        assertTrue(v.stream().anyMatch(x -> x.kind() == OverlayProbe.Kind.NORMAL_ABNORMAL && x.textClass() == 0));
        assertEquals(v, OverlayProbe.defaultVariants(List.of("normal", "pneumonia"), 1));
    }
}
