package io.vlm4j.cli;

import io.vlm4j.backend.Backend;
import io.vlm4j.backend.BackendSelfTest;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.io.Npy;
import io.vlm4j.model.clip.ClipConfig;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.model.clip.ClipTextConfig;
import io.vlm4j.model.clip.ClipVisionConfig;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "check", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Self-test of a backend: every op vs the float64 reference on random inputs, small random models of every "
                + "family (CLIP, BiomedCLIP-style timm + BERT, SigLIP: embeddings and LoRA gradients) vs the CPU backend, and "
                + "optionally the golden tiny CLIP model (../shared/golden). Exit 0 when everything is within tolerance, 1 otherwise.")
final class CheckCommand implements Callable<Integer> {
    @Option(names = "--golden", description = "golden data directory (models/tiny + fixtures/tiny) to check end to end")
    Path golden;

    @Option(names = "--tolerance", defaultValue = "1e-5", description = "normwise tolerance for the ops (default: ${DEFAULT-VALUE}; at least 1e-2 with --dtype bf16/fp16)")
    double tolerance;

    @Option(names = "--graphs", description = "also run the golden model through recorded replays (CUDA graphs)")
    boolean graphs;

    @Mixin
    BackendOptions options;

    @Override
    public Integer call() throws Exception {
        int failures = 0;
        try (Backend backend = options.open()) {
            // 16-bit compute: operands and outputs are rounded to 8 (BF16) or 11 (F16) significant bits
            double tol = backend.computeType() == DType.F32 ? tolerance : Math.max(tolerance, 1e-2);
            System.out.println("backend " + backend.name() + " (" + backend.computeType() + "), tolerance " + tol);
            List<BackendSelfTest.Result> results = new BackendSelfTest(backend, tol).run();
            double worst = 0;
            for (BackendSelfTest.Result r : results) {
                System.out.printf(Locale.ROOT, "  %-30s %-36s err %.2e %s%n", r.op(), r.shape(), r.error(), r.ok() ? "ok" : "FAIL");
                if (!r.ok()) failures++;
                else worst = Math.max(worst, r.error());
            }
            System.out.printf(Locale.ROOT, "ops: %d checks, %d failed, worst passing error %.2e%n", results.size(), failures, worst);
            if (!(backend instanceof CpuBackend) || backend.weightType() != DType.F32) {
                failures += checkRandomModel(backend);
                failures += FamilyCheck.run(backend, exact(backend));
            }
            if (golden != null) failures += checkGolden(backend);
        }
        System.out.println(failures == 0 ? "all checks passed" : failures + " checks FAILED");
        return failures == 0 ? 0 : 1;
    }

    /**
     * Image and text embeddings of the golden tiny model: within 1e-4 absolute (the conformance tolerance) when the
     * backend computes in F32; in F16/BF16 within 1e-2 of max |reference| and cosine >= 0.999 per row. With --graphs
     * the same again through recorded replays.
     */
    private int checkGolden(Backend backend) throws Exception {
        Path fx = golden.resolve("fixtures/tiny");
        if (!Files.isDirectory(fx)) throw new IllegalArgumentException(golden + ": no fixtures/tiny here");
        boolean f32 = exact(backend);
        int failures = 0;
        try (ClipModel clip = ClipModel.load(golden.resolve("models/tiny"), backend);
             Tensor pixels = Npy.readFloat32(fx.resolve("pixel_values.npy"));
             Tensor ids = Npy.readInt32(fx.resolve("input_ids.npy"))) {
            String[][] checks = {{"image_embeds", "i"}, {"text_embeds", "t"}, {"image_embeds_normalized", "in"}, {"text_embeds_normalized", "tn"}};
            for (boolean replay : graphs ? new boolean[] {false, true} : new boolean[] {false}) {
                clip.useGraphs(replay);
                for (int pass = 0; pass < (replay ? 2 : 1); pass++) {  // replays: the recording run, then a replay
                    for (String[] c : checks) {
                        boolean image = c[1].startsWith("i"), norm = c[1].endsWith("n");
                        try (Tensor got = image ? clip.encodeImages(pixels, norm) : clip.encodeTexts(ids, norm);
                             Tensor want = Npy.readFloat32(fx.resolve(c[0] + ".npy"))) {
                            Agreement a = Agreement.of(want, got);
                            boolean ok = f32 ? a.maxAbs() <= 1e-4 : a.maxAbs() <= 1e-2 * a.scale() && a.minCosine() >= 0.999;
                            if (!ok) failures++;
                            System.out.printf(Locale.ROOT, "  golden %-24s%s max abs err %.2e (%.2e relative), min cosine %.6f %s%n",
                                    c[0], replay ? (pass == 0 ? " recorded" : " replayed") : "", a.maxAbs(), a.relative(), a.minCosine(),
                                    ok ? "ok" : "FAIL");
                        }
                    }
                }
            }
        }
        return failures;
    }

    /**
     * A small random CLIP (head dims 64 and 32, 37 image tokens, 13 text tokens, ragged chunks of 3) end to end
     * against the CPU backend's F32 embeddings: what a machine without the golden files (the GPU machine) can check.
     * F32: 1e-4 of max |reference|; F16/BF16: 1e-2 and cosine >= 0.999. With --graphs also recorded and replayed.
     */
    private int checkRandomModel(Backend backend) throws Exception {
        ClipTextConfig text = new ClipTextConfig(1000, 64, 128, 2, 2, 13, "quick_gelu", 1e-5, 32, 1, 998, 999);
        ClipVisionConfig vision = new ClipVisionConfig(128, 256, 2, 2, 3, 48, 8, "gelu", 1e-5, 32);
        ClipConfig config = ClipConfig.of(text, vision, 32);
        java.util.SplittableRandom r = new java.util.SplittableRandom(7);
        int n = 7;
        float[] px = new float[n * 3 * 48 * 48];
        for (int i = 0; i < px.length; i++) px[i] = (float) (r.nextDouble() * 4 - 2);
        int[] ids = new int[n * 13];
        for (int b = 0; b < n; b++) {
            int eos = 2 + r.nextInt(11);
            ids[b * 13] = 998;
            for (int i = 1; i < eos; i++) ids[b * 13 + i] = 2 + r.nextInt(990);
            ids[b * 13 + eos] = 999;
        }
        boolean f32 = exact(backend);
        int failures = 0;
        try (Backend cpu = new CpuBackend(); ClipModel want = ClipModel.random(config, 11, cpu).batchSize(3);
             ClipModel got = ClipModel.random(config, 11, backend).batchSize(3);
             Tensor pixels = Tensor.of(px, n, 3, 48, 48); Tensor tokens = Tensor.ofInts(ids, n, 13);
             Tensor wi = want.encodeImages(pixels, false); Tensor wt = want.encodeTexts(tokens, false)) {
            for (boolean replay : graphs ? new boolean[] {false, true, true} : new boolean[] {false}) {
                got.useGraphs(replay);
                try (Tensor gi = got.encodeImages(pixels, false); Tensor gt = got.encodeTexts(tokens, false)) {
                    for (Tensor[] pair : new Tensor[][] {{wi, gi}, {wt, gt}}) {
                        Agreement a = Agreement.of(pair[0], pair[1]);
                        boolean ok = f32 ? a.relative() <= 1e-4 : a.relative() <= 1e-2 && a.minCosine() >= 0.999;
                        if (!ok) failures++;
                        System.out.printf(Locale.ROOT, "  random model %-6s%s vs cpu fp32: %.2e relative, min cosine %.6f %s%n",
                                pair[0] == wi ? "image" : "text", replay ? " (graphs)" : "", a.relative(), a.minCosine(), ok ? "ok" : "FAIL");
                    }
                }
            }
        }
        return failures;
    }

    /** Whether the backend computes everything in F32 (tight tolerances) rather than with 16-bit operands. */
    private static boolean exact(Backend backend) {
        return backend.computeType() == DType.F32 && backend.weightType() == DType.F32;
    }

    /**
     * How embeddings [N, E] agree with a reference: max |got - want| (infinite where got is not finite), max |want|,
     * and the smallest per-row cosine.
     */
    record Agreement(double maxAbs, double scale, double minCosine) {
        double relative() { return maxAbs / Math.max(scale, 1e-30); }

        static Agreement of(Tensor want, Tensor got) {
            float[] w = want.toFloatArray(), g = got.toFloatArray();
            int dim = (int) want.dim(1);
            double err = 0, scale = 0, worst = 1;
            for (int i = 0; i < w.length; i++) {
                err = Math.max(err, Float.isFinite(g[i]) ? Math.abs((double) g[i] - w[i]) : Double.POSITIVE_INFINITY);
                scale = Math.max(scale, Math.abs(w[i]));
            }
            for (int r = 0; r * dim < w.length; r++) {
                double ab = 0, aa = 0, bb = 0;
                for (int j = r * dim; j < (r + 1) * dim; j++) {
                    ab += (double) g[j] * w[j];
                    aa += (double) g[j] * g[j];
                    bb += (double) w[j] * w[j];
                }
                worst = Math.min(worst, ab / Math.max(Math.sqrt(aa * bb), 1e-300));
            }
            return new Agreement(err, scale, worst);
        }
    }
}
