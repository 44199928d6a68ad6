package io.vlm4j.eval.analysis;

import java.awt.Color;
import java.util.List;
import org.knowm.xchart.style.markers.Marker;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Colours and marker shapes for classes, distinguishable with the common colour-vision deficiencies: the eight
 * Okabe–Ito colours (Okabe &amp; Ito 2008, "Color Universal Design"), ordered so the first few differ most, and past
 * eight classes a new marker shape for each round of colours. No palette keeps 20 colours apart for every reader, so
 * shape carries the rest: classes 0–7 are circles, 8–15 squares, 16–23 diamonds, then triangles; 40 combinations.
 */
public final class ClassPalette {
    /** Blue, vermillion, bluish green, reddish purple, orange, sky blue, black, yellow. */
    public static final List<Color> OKABE_ITO = List.of(
            new Color(0x0072B2), new Color(0xD55E00), new Color(0x009E73), new Color(0xCC79A7),
            new Color(0xE69F00), new Color(0x56B4E9), new Color(0x000000), new Color(0xF0E442));

    private static final List<Marker> SHAPES = List.of(
            SeriesMarkers.CIRCLE, SeriesMarkers.SQUARE, SeriesMarkers.DIAMOND, SeriesMarkers.TRIANGLE_UP,
            SeriesMarkers.TRIANGLE_DOWN);

    private ClassPalette() {}

    public static Color color(int classIndex) {
        return OKABE_ITO.get(Math.floorMod(classIndex, OKABE_ITO.size()));
    }

    /** {@link #color} with alpha in [0, 1], for dense scatter plots where points overlap. */
    public static Color color(int classIndex, double alpha) {
        Color c = color(classIndex);
        return new Color(c.getRed(), c.getGreen(), c.getBlue(), (int) Math.round(255 * Math.max(0, Math.min(1, alpha))));
    }

    public static Marker marker(int classIndex) {
        return SHAPES.get(Math.floorMod(classIndex / OKABE_ITO.size(), SHAPES.size()));
    }
}
