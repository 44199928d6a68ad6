package io.vlm4j.backend.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** A GEMM size, C[m,n] = A[m,k] · B[n,k]ᵀ (the linear-layer case), and the lists {@code bench-gemm --shapes} takes. */
public record GemmShape(long m, long n, long k) {
    /** Tokens of a ViT-B/16 batch of 256 images: 256 × (14 × 14 patches + class token). */
    public static final long VIT_B16_TOKENS = 256L * 197;

    /** The four linear layers of a ViT-B/16 block at batch 256: fused qkv, attention out, MLP up, MLP down. */
    public static final List<GemmShape> VIT_B16 = List.of(
            new GemmShape(VIT_B16_TOKENS, 2304, 768), new GemmShape(VIT_B16_TOKENS, 768, 768),
            new GemmShape(VIT_B16_TOKENS, 3072, 768), new GemmShape(VIT_B16_TOKENS, 768, 3072));

    public GemmShape {
        // cuBLAS takes int sizes; our kernels take int64 but one grid dimension limits m (checked there)
        if (m < 1 || n < 1 || k < 1 || m > Integer.MAX_VALUE || n > Integer.MAX_VALUE || k > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("GEMM sizes must be 1.." + Integer.MAX_VALUE + ", got " + m + "x" + n + "x" + k);
        }
    }

    /** 2 · m · n · k: one multiply and one add per term. */
    public double flops() {
        return 2.0 * m * n * k;
    }

    @Override
    public String toString() {
        return m + "x" + n + "x" + k;
    }

    /**
     * "vit-b16", or a comma-separated list of {@code MxNxK} (e.g. {@code 50432x768x3072,1024x1024x1024}); throws
     * {@link IllegalArgumentException} naming the bad entry.
     */
    public static List<GemmShape> parseList(String spec) {
        if (spec == null || spec.isBlank()) throw new IllegalArgumentException("--shapes is empty (expected vit-b16 or MxNxK,...)");
        if (spec.strip().equalsIgnoreCase("vit-b16")) return VIT_B16;
        List<GemmShape> shapes = new ArrayList<>();
        for (String item : spec.split(",", -1)) shapes.add(parse(item.strip()));
        return List.copyOf(shapes);
    }

    private static GemmShape parse(String item) {
        String[] parts = item.toLowerCase(Locale.ROOT).split("x", -1);
        if (parts.length != 3) throw bad(item, "is not MxNxK");
        long[] v = new long[3];
        for (int i = 0; i < 3; i++) {
            try {
                v[i] = Long.parseLong(parts[i].strip());
            } catch (NumberFormatException e) {
                throw bad(item, "'" + parts[i] + "' is not a whole number");
            }
        }
        try {
            return new GemmShape(v[0], v[1], v[2]);
        } catch (IllegalArgumentException e) {
            throw bad(item, "sizes must be between 1 and " + Integer.MAX_VALUE);
        }
    }

    private static IllegalArgumentException bad(String item, String why) {
        return new IllegalArgumentException("--shapes: '" + item + "' " + why + " (expected vit-b16 or MxNxK,... e.g. 50432x768x3072)");
    }
}
