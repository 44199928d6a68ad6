package io.vlm4j.eval.overlay;

import io.vlm4j.eval.ZeroShotHead;
import io.vlm4j.image.ImageDecoder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * Text-overlay bias probe: how far rendered text moves image embeddings and how often it flips zero-shot
 * predictions. For each overlay (a class name, an unrelated word, "normal"/"abnormal"; several sizes and
 * positions) every image is embedded with and without the text, and the probe reports the cosine between the two
 * embeddings, the zero-shot flip rate against the clean prediction, the rate at which images are pulled to the
 * class the text names (typographic-attack success, among images not already predicted as that class), and the
 * accuracy with the overlay when labels are known.
 */
public final class OverlayProbe {
    private OverlayProbe() {}

    /** L2-normalized image embeddings [n][E] of 8-bit RGB images (a model plus its preprocessing). */
    public interface Embedder {
        float[][] embed(List<ImageDecoder.Decoded> images);
    }

    /** Kinds of overlay text, reported separately. */
    public enum Kind { CLASS_NAME, RANDOM_WORD, NORMAL_ABNORMAL }

    /** One overlay and what its text is; {@code textClass} is the class the text names, or -1. */
    public record Variant(TextOverlay.Spec spec, Kind kind, int textClass) {}

    /**
     * Results of one overlay over all images. cosine: between clean and overlaid embeddings (mean and minimum);
     * flipRate: zero-shot prediction differs from the clean one; pulledRate: predicted as {@code textClass} among
     * the images whose clean prediction was another class (NaN when the text names no class); accuracy: with the
     * overlay (NaN without labels).
     */
    public record VariantResult(Variant variant, int images, double meanCosine, double minCosine, double flipRate,
                                double pulledRate, double accuracy) {}

    /** Everything the probe measured; byKind averages the variants of each kind. */
    public record Report(int images, double cleanAccuracy, List<VariantResult> variants, Map<Kind, VariantSummary> byKind) {}

    public record VariantSummary(int variants, double meanCosine, double flipRate, double pulledRate, double accuracy) {}

    private static final String[] WORDS = {"apple", "window", "river", "guitar", "pencil", "cloud", "bicycle", "ticket",
        "garden", "candle", "rocket", "blanket"};

    /**
     * The default overlay set: every class name, three unrelated words (seeded), "normal" and "abnormal"; each at
     * 10% and 20% of the image height, centred and in the bottom-right corner.
     */
    public static List<Variant> defaultVariants(List<String> classNames, long seed) {
        List<Variant> out = new ArrayList<>();
        double[] sizes = {0.10, 0.20};
        TextOverlay.Position[] positions = {TextOverlay.Position.CENTER, TextOverlay.Position.BOTTOM_RIGHT};
        List<String> words = new ArrayList<>(List.of(WORDS));
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = words.size() - 1; i > 0; i--) {  // seeded shuffle, then the first three
            int j = r.nextInt(i + 1);
            String t = words.get(i);
            words.set(i, words.get(j));
            words.set(j, t);
        }
        for (double s : sizes) {
            for (TextOverlay.Position p : positions) {
                for (int c = 0; c < classNames.size(); c++) out.add(new Variant(new TextOverlay.Spec(classNames.get(c), s, p), Kind.CLASS_NAME, c));
                for (String w : words.subList(0, 3)) out.add(new Variant(new TextOverlay.Spec(w, s, p), Kind.RANDOM_WORD, -1));
                for (String w : new String[] {"normal", "abnormal"}) out.add(new Variant(new TextOverlay.Spec(w, s, p), Kind.NORMAL_ABNORMAL, indexOf(classNames, w)));
            }
        }
        return out;
    }

    private static int indexOf(List<String> names, String w) {
        for (int i = 0; i < names.size(); i++) if (names.get(i).equalsIgnoreCase(w)) return i;
        return -1;
    }

    /**
     * Runs the probe.
     *
     * @param images       8-bit images (1 or 3 channels)
     * @param labels       true class per image, or null
     * @param head         the zero-shot classifier whose predictions are compared
     * @param onVariant    called with the number of images done after each variant (progress bars)
     */
    public static Report run(List<ImageDecoder.Decoded> images, int[] labels, ZeroShotHead head, Embedder embedder,
                             List<Variant> variants, IntConsumer onVariant) {
        int n = images.size();
        if (n == 0) throw new IllegalArgumentException("overlay probe: no images");
        if (labels != null && labels.length != n) {
            throw new IllegalArgumentException("overlay probe: " + labels.length + " labels for " + n + " images");
        }
        float[][] clean = embedder.embed(images);
        int[] cleanPred = head.predict(clean);
        List<VariantResult> results = new ArrayList<>();
        for (Variant v : variants) {
            if (v.textClass() >= head.numClasses()) {
                throw new IllegalArgumentException("overlay probe: text class " + v.textClass() + " outside " + head.numClasses() + " classes");
            }
            List<ImageDecoder.Decoded> overlaid = new ArrayList<>(n);
            for (ImageDecoder.Decoded im : images) overlaid.add(TextOverlay.render(im, v.spec()));
            float[][] e = embedder.embed(overlaid);
            int[] pred = head.predict(e);
            double cosSum = 0, cosMin = Double.POSITIVE_INFINITY;
            int flips = 0, pulled = 0, eligible = 0, correct = 0;
            for (int i = 0; i < n; i++) {
                double cos = dot(clean[i], e[i]);
                cosSum += cos;
                cosMin = Math.min(cosMin, cos);
                if (pred[i] != cleanPred[i]) flips++;
                if (v.textClass() >= 0 && cleanPred[i] != v.textClass()) {
                    eligible++;
                    if (pred[i] == v.textClass()) pulled++;
                }
                if (labels != null && pred[i] == labels[i]) correct++;
            }
            results.add(new VariantResult(v, n, cosSum / n, cosMin, (double) flips / n,
                    v.textClass() < 0 || eligible == 0 ? Double.NaN : (double) pulled / eligible,
                    labels == null ? Double.NaN : (double) correct / n));
            onVariant.accept(n);
        }
        double cleanAcc = Double.NaN;
        if (labels != null) {
            int c = 0;
            for (int i = 0; i < n; i++) if (cleanPred[i] == labels[i]) c++;
            cleanAcc = (double) c / n;
        }
        return new Report(n, cleanAcc, results, summarize(results));
    }

    private static Map<Kind, VariantSummary> summarize(List<VariantResult> results) {
        Map<Kind, VariantSummary> out = new LinkedHashMap<>();
        for (Kind k : Kind.values()) {
            List<VariantResult> of = results.stream().filter(r -> r.variant().kind() == k).toList();
            if (of.isEmpty()) continue;
            out.put(k, new VariantSummary(of.size(), mean(of, VariantResult::meanCosine), mean(of, VariantResult::flipRate),
                    mean(of, VariantResult::pulledRate), mean(of, VariantResult::accuracy)));
        }
        return out;
    }

    /** Mean over the values that are defined (NaN when none is). */
    private static double mean(List<VariantResult> rs, java.util.function.ToDoubleFunction<VariantResult> f) {
        double s = 0;
        int c = 0;
        for (VariantResult r : rs) {
            double v = f.applyAsDouble(r);
            if (!Double.isNaN(v)) {
                s += v;
                c++;
            }
        }
        return c == 0 ? Double.NaN : s / c;
    }

    private static double dot(float[] a, float[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("overlay probe: embedding widths differ (" + a.length + " vs " + b.length + ")");
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }
}
