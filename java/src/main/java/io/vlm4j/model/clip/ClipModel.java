package io.vlm4j.model.clip;

import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.io.WeightStore;
import io.vlm4j.lora.LoraState;
import io.vlm4j.lora.LoraWeights;
import io.vlm4j.model.ImageTower;
import io.vlm4j.model.TextTower;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Device;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A CLIP model: image tower, text tower or both (HF {@code CLIPModel}, {@code CLIPVisionModelWithProjection},
 * {@code CLIPTextModelWithProjection}; spec 01 §3.4).
 * <pre>{@code
 * try (ClipModel clip = ClipModel.load(Path.of("clip-vit-base-patch16"))) {
 *     float[][] img = clip.encodeImages(pixels, true);   // [N][E], L2-normalized
 *     float[][] txt = clip.encodeTexts(ids, true);
 *     float[][] logits = clip.similarity(img, txt);      // exp(logit_scale) · cos
 * }
 * }</pre>
 * Inputs of any batch size are processed in chunks of {@link #batchSize()}.
 */
public final class ClipModel implements AutoCloseable {
    /** Guards only against a zero vector; HF divides by the plain norm, which is never this small in practice. */
    private static final float NORM_EPS = 1e-12f;
    private final Backend backend;
    private final boolean ownsBackend;
    private final ClipConfig config;
    private final ImageTower vision;
    private final TextTower text;
    private final String family;     // "clip", "biomedclip", "siglip"
    private float logitBias;   // SigLIP: logits = exp(logit_scale)·cos + logit_bias; 0 for the softmax families
    private float logitScale;
    private int batchSize = 16;
    private boolean graphs;
    private final java.util.Map<String, Replay> replays = new java.util.HashMap<>();

    private ClipModel(Backend backend, boolean ownsBackend, ClipConfig config, WeightSource weights) throws IOException {
        this.backend = backend;
        this.ownsBackend = ownsBackend;
        this.config = config;
        ClipVisionTower v = null;
        ClipTextTower t = null;
        try {
            if (config.vision().isPresent()) {
                ClipVisionConfig vc = config.vision().get();
                v = new ClipVisionTower(backend, vc, vc.projectionDim(), weights);
            }
            if (config.text().isPresent()) {
                ClipTextConfig tc = config.text().get();
                t = new ClipTextTower(backend, tc, tc.projectionDim(), weights);
            }
            if (weights.contains("logit_scale")) {
                try (Tensor s = weights.tensor("logit_scale")) {
                    this.logitScale = s.toFloatArray()[0];
                }
            } else {
                this.logitScale = (float) config.logitScaleInitValue();
            }
        } catch (IOException | RuntimeException e) {
            if (v != null) v.close();
            if (t != null) t.close();
            throw e;
        }
        this.vision = v;
        this.text = t;
        this.family = "clip";
        this.logitBias = 0f;
    }

    /**
     * A model of another family from its towers (owned from now on; either may be null): BiomedCLIP, SigLIP
     * ({@link ModelFamilies}). {@link #config()} is not available for these.
     */
    ClipModel(Backend backend, boolean ownsBackend, String family, ImageTower vision, TextTower text, float logitScale, float logitBias) {
        this.backend = backend;
        this.ownsBackend = ownsBackend;
        this.config = null;
        this.family = family;
        this.vision = vision;
        this.text = text;
        this.logitScale = logitScale;
        this.logitBias = logitBias;
    }

    /** The model family: "clip" (HF or open_clip CLIP), "biomedclip" (timm ViT + BERT), "siglip". */
    public String family() { return family; }

    /** SigLIP's logit bias (logits = exp(logit_scale)·cos + bias, probabilities by sigmoid); 0 for the other families. */
    public float logitBias() { return logitBias; }

    /** Whether logits are independent sigmoids (SigLIP) rather than a softmax over the candidates (CLIP, BiomedCLIP). */
    public boolean sigmoidLogits() { return family.equals("siglip"); }

    /**
     * Loads a model directory (config.json + safetensors) or one .safetensors file beside its config.json, on the CPU
     * backend. open_clip CLIP directories (open_clip_config.json + open_clip_model.safetensors or model.safetensors)
     * load too: see {@link OpenClipLayout}.
     */
    public static ClipModel load(Path path) throws IOException {
        Backend cpu = new CpuBackend();
        try {
            return load(path, cpu, true);
        } catch (IOException | RuntimeException e) {
            cpu.close();
            throw e;
        }
    }

    /** Like {@link #load(Path)} on {@code backend}, which the caller keeps owning. */
    public static ClipModel load(Path path, Backend backend) throws IOException {
        return load(path, backend, false);
    }

    private static ClipModel load(Path path, Backend backend, boolean ownsBackend) throws IOException {
        if (!Files.exists(path)) throw new java.nio.file.NoSuchFileException(path.toString(), null, "model path does not exist");
        Path configDir = Files.isDirectory(path) ? path : path.toAbsolutePath().getParent();
        Path hfFile = configDir.resolve("config.json");  // read once: the family is decided from it, then the config
        com.fasterxml.jackson.databind.JsonNode hf = Files.isRegularFile(hfFile) ? io.vlm4j.io.StrictJson.readConfig(hfFile, "model config") : null;
        Optional<ClipModel> other = ModelFamilies.load(path, configDir, hfFile, hf, backend, ownsBackend);
        if (other.isPresent()) return other.get();
        // open_clip's layout (OpenClipLayout): its config when there is no HF config.json, its key names wherever found
        ClipConfig config = OpenClipLayout.isOpenClipDirectory(configDir) ? OpenClipLayout.loadConfig(configDir)
                : hf != null ? ClipConfigLoader.load(hfFile, hf) : ClipConfigLoader.load(configDir);
        try (WeightStore store = WeightStore.open(OpenClipLayout.weightsPath(path))) {
            WeightSource weights = OpenClipLayout.hasOpenClipNames(store) ? OpenClipLayout.weights(store) : new StoreWeights(store);
            return new ClipModel(backend, ownsBackend, config, weights);
        }
    }

    /** A model with seeded random weights (HF initialisation scales), for benchmarks and tests. */
    public static ClipModel random(ClipConfig config, long seed, Backend backend) throws IOException {
        return new ClipModel(backend, false, config, new RandomWeights(seed));
    }

    /** The CLIP configuration; only for the CLIP family ({@link #family()}). */
    public ClipConfig config() {
        if (config == null) throw new IllegalStateException("a " + family + " model has no CLIP configuration");
        return config;
    }

    public Backend backend() { return backend; }

    /** The image tower, of any family (a {@link ClipVisionTower} for CLIP models). */
    public Optional<ImageTower> vision() { return Optional.ofNullable(vision); }

    /** The text tower, of any family (a {@link ClipTextTower} for CLIP models). */
    public Optional<TextTower> text() { return Optional.ofNullable(text); }

    /** The CLIP image tower (LoRA training, observers); empty for other families or without an image tower. */
    public Optional<ClipVisionTower> clipVision() {
        return vision instanceof ClipVisionTower v ? Optional.of(v) : Optional.empty();
    }

    /** The CLIP text tower; empty for other families or without a text tower. */
    public Optional<ClipTextTower> clipText() {
        return text instanceof ClipTextTower t ? Optional.of(t) : Optional.empty();
    }

    // ---- LoRA adapters (spec 05) ----

    private LoraState lora;

    /** The Linear modules of the towers present that an adapter may wrap, with their HF module paths and sizes. */
    public java.util.List<LoraWeights.Linear> linears() {
        java.util.List<LoraWeights.Linear> list = new java.util.ArrayList<>();
        if (vision != null) list.addAll(vision.linears());
        if (text != null) list.addAll(text.linears());
        return list;
    }

    /**
     * Attaches an adapter unmerged (y = x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ on every wrapped Linear): its values are copied to the
     * device as F32 masters that training updates ({@link LoraState#parameters()}). Replaces an attached adapter.
     * Every module of the adapter must be a Linear of this model (else the error names it).
     */
    public LoraState attachLora(LoraWeights weights) {
        checkModules(weights);
        detachLora();
        closeReplays();
        LoraState state = new LoraState(backend, weights);
        try {
            vision().ifPresent(v -> v.attachAdapters(state));
            text().ifPresent(t -> t.attachAdapters(state));
        } catch (RuntimeException e) {
            vision().ifPresent(ImageTower::detachAdapters);
            text().ifPresent(TextTower::detachAdapters);
            state.close();
            throw e;
        }
        lora = state;
        return state;
    }

    /** The attached (unmerged) adapter, if any. */
    public Optional<LoraState> lora() { return Optional.ofNullable(lora); }

    /** Removes the attached adapter (the base weights are untouched). */
    public void detachLora() {
        if (lora == null) return;
        closeReplays();
        vision().ifPresent(ImageTower::detachAdapters);
        text().ifPresent(TextTower::detachAdapters);
        lora.sitesClosed();
        lora.close();
        lora = null;
    }

    /**
     * Merges an adapter into the base weights, W ← W + s·B·A (computed in F32, then stored in the weight type; spec 05
     * §3): the model then runs at the base model's speed with the adapter's outputs. Not with an attached adapter.
     */
    public void mergeLora(LoraWeights weights) {
        mergeOrUnmerge(weights, +1);
    }

    /** Undoes {@link #mergeLora} with the same adapter: W ← W − s·B·A (exact up to the weight type's rounding). */
    public void unmergeLora(LoraWeights weights) {
        mergeOrUnmerge(weights, -1);
    }

    private void mergeOrUnmerge(LoraWeights weights, int sign) {
        if (lora != null) throw new IllegalStateException("detach the attached adapter before merging another one");
        checkModules(weights);
        closeReplays();
        try (LoraState state = new LoraState(backend, weights)) {
            try {
                vision().ifPresent(v -> {
                    v.attachAdapters(state);
                    v.mergeAdapters(sign);
                });
                text().ifPresent(t -> {
                    t.attachAdapters(state);
                    t.mergeAdapters(sign);
                });
            } finally {
                vision().ifPresent(ImageTower::detachAdapters);
                text().ifPresent(TextTower::detachAdapters);
            }
        }
    }

    private void checkModules(LoraWeights weights) {
        java.util.Map<String, LoraWeights.Linear> known = new java.util.HashMap<>();
        for (LoraWeights.Linear l : linears()) known.put(l.path(), l);
        for (LoraWeights.Module m : weights.modules()) {
            LoraWeights.Linear l = known.get(m.path());
            if (l == null && (vision != null && vision.linears().isEmpty() || text != null && text.linears().isEmpty())) {
                throw new IllegalArgumentException("the adapter wraps '" + m.path() + "', which this " + family + " model does not expose to "
                        + "LoRA (its " + (vision != null && vision.linears().isEmpty() ? vision.family() + " image" : text.family() + " text")
                        + " tower runs without adapters)");
            }
            if (l == null) {
                throw new IllegalArgumentException("the adapter wraps '" + m.path() + "', which this model does not have"
                        + (vision == null || text == null ? " (it has only the " + (vision != null ? "image" : "text") + " tower)" : ""));
            }
            if (m.in() != l.in() || m.out() != l.out()) {
                throw new IllegalArgumentException("the adapter's '" + m.path() + "' is " + m.in() + " -> " + m.out()
                        + " but the model's Linear is " + l.in() + " -> " + l.out());
            }
        }
    }

    /** The stored log-scale; similarities are multiplied by exp of it. */
    public float logitScale() { return logitScale; }

    /**
     * Replaces the logit scale and (SigLIP) bias, e.g. with those a contrastive LoRA run trained ({@code logits.safetensors}
     * beside its adapter); the bias must be 0 for the softmax families.
     */
    public void logits(float logitScale, float logitBias) {
        if (!Float.isFinite(logitScale) || !Float.isFinite(logitBias)) {
            throw new IllegalArgumentException("logit scale and bias must be finite, got " + logitScale + ", " + logitBias);
        }
        if (logitBias != 0 && !sigmoidLogits()) throw new IllegalArgumentException("a logit bias needs a sigmoid-loss model, this is " + family);
        this.logitScale = logitScale;
        this.logitBias = logitBias;
    }

    public int batchSize() { return batchSize; }

    /** Largest number of images or texts run through a tower at once (memory vs. throughput). */
    public ClipModel batchSize(int n) {
        OpChecks.requirePositive("batchSize", "n", n);
        this.batchSize = n;
        return this;
    }

    /**
     * Replays each tower forward from a recording per chunk shape (on the CUDA backend a CUDA graph: one launch per
     * chunk instead of hundreds). Worth it for repeated chunks of one shape; each shape keeps its input and output
     * buffers on the device until the model is closed or graphs are turned off. Off by default.
     */
    public ClipModel useGraphs(boolean on) {
        graphs = on;
        if (!on) closeReplays();
        return this;
    }

    /** A recorded forward for one chunk shape, with the device buffers it reads and writes. */
    private record Replay(Tensor in, Tensor out, Backend.Recording recording) {
        void close() {
            try (in; out) {
                recording.close();
            }
        }
    }

    /** One tower forward of a host chunk, replayed from its recording (made on first use of the shape). */
    private void forwardReplayed(String tower, Tensor hostIn, Tensor hostOut, java.util.function.BiConsumer<Tensor, Tensor> forward) {
        String key = tower + java.util.Arrays.toString(hostIn.shape());
        Replay r = replays.get(key);
        if (r == null) {
            Tensor in = backend.allocate(hostIn.dtype(), hostIn.shape());
            Tensor out = backend.allocate(DType.F32, hostOut.shape());
            try {
                in.copyFrom(hostIn);
                r = new Replay(in, out, backend.record(() -> forward.accept(in, out)));  // runs once while recording
            } catch (RuntimeException ex) {
                in.close();
                out.close();
                throw ex;
            }
            replays.put(key, r);
        } else {
            r.in().copyFrom(hostIn);
            r.recording().run();
        }
        hostOut.copyFrom(r.out());
    }

    private void closeReplays() {
        for (Replay r : replays.values()) r.close();
        replays.clear();
    }

    /** Image embeddings [N, E] of pixels F32 [N, C, S, S], chunked by {@link #batchSize()}; the caller owns the result. */
    public Tensor encodeImages(Tensor pixels, boolean normalize) {
        ImageTower v = vision().orElseThrow(() -> new IllegalStateException("this model has no image tower"));
        OpChecks.requireRank("encodeImages", "pixels", pixels, 4);
        long n = pixels.dim(0), per = pixels.numel() / Math.max(1, n), e = v.projectionDim();
        Tensor out = Tensor.allocate(DType.F32, n, e);
        try {
            for (long i = 0; i < n; i += batchSize) {
                long c = Math.min(batchSize, n - i);
                long[] shape = pixels.shape();
                shape[0] = c;
                Tensor chunk = pixels.view(i * per, shape), chunkOut = out.view(i * e, c, e);
                if (graphs && pixels.device() == Device.CPU) forwardReplayed("image", chunk, chunkOut, v::forward);
                else v.forward(chunk, chunkOut);
            }
            if (normalize) normalizeRows(out);
            return out;
        } catch (RuntimeException ex) {
            out.close();
            throw ex;
        }
    }

    /** Text embeddings [N, E] of token ids I32 [N, L], chunked by {@link #batchSize()}; the caller owns the result. */
    public Tensor encodeTexts(Tensor ids, boolean normalize) {
        return encodeTexts(ids, normalize, done -> { });
    }

    /** {@link #encodeTexts(Tensor, boolean)} reporting each finished chunk's row count (progress bars). */
    public Tensor encodeTexts(Tensor ids, boolean normalize, java.util.function.LongConsumer onChunk) {
        TextTower t = text().orElseThrow(() -> new IllegalStateException("this model has no text tower"));
        OpChecks.requireRank("encodeTexts", "ids", ids, 2);
        long n = ids.dim(0), len = ids.dim(1), e = t.projectionDim();
        Tensor out = Tensor.allocate(DType.F32, n, e);
        try {
            for (long i = 0; i < n; i += batchSize) {
                long c = Math.min(batchSize, n - i);
                Tensor chunk = ids.view(i * len, c, len), chunkOut = out.view(i * e, c, e);
                if (graphs && ids.device() == Device.CPU) {
                    t.checkIds(chunk);  // a replay cannot report bad ids: check them here
                    forwardReplayed("text", chunk, chunkOut, (in, o) -> t.forward(in, null, o));
                } else {
                    t.forward(chunk, null, chunkOut);
                }
                onChunk.accept(c);
            }
            if (normalize) normalizeRows(out);
            return out;
        } catch (RuntimeException ex) {
            out.close();
            throw ex;
        }
    }

    /** L2-normalizes the rows of a host result: with the backend when it computes on the host, else in Java. */
    private void normalizeRows(Tensor out) {
        if (out.device() == backend.device()) {
            backend.l2Normalize(out, NORM_EPS, out);
            return;
        }
        float[] v = out.toFloatArray();
        l2NormalizeRows(v, (int) out.dim(1));
        out.copyFrom(v);
    }

    /** F.normalize on the host: each row of {@code dim} values of {@code v} becomes x / max(‖x‖₂, 1e-12), in place. */
    public static void l2NormalizeRows(float[] v, int dim) {
        for (int i = 0; i + dim <= v.length && dim > 0; i += dim) {
            double ss = 0;
            for (int j = i; j < i + dim; j++) ss += (double) v[j] * v[j];
            double div = Math.max(Math.sqrt(ss), NORM_EPS);
            for (int j = i; j < i + dim; j++) v[j] = (float) (v[j] / div);
        }
    }

    /** Array convenience: pixels is N images of C·S·S floats each (NCHW). */
    public float[][] encodeImages(float[][] pixels, boolean normalize) {
        ImageTower vc = vision().orElseThrow(() -> new IllegalStateException("this model has no image tower"));
        long s = vc.imageSize();
        float[] flat = flatten(pixels, vc.numChannels() * s * s, "image");
        try (Tensor p = Tensor.of(flat, pixels.length, vc.numChannels(), s, s); Tensor e = encodeImages(p, normalize)) {
            return e.toFloatRows();
        }
    }

    /** Array convenience: every row the same length L. */
    public float[][] encodeTexts(int[][] ids, boolean normalize) {
        int len = ids.length == 0 ? 1 : ids[0].length;
        int[] flat = new int[ids.length * len];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i].length != len) throw new IllegalArgumentException("text " + i + " has " + ids[i].length + " ids, expected " + len);
            System.arraycopy(ids[i], 0, flat, i * len, len);
        }
        try (Tensor t = Tensor.ofInts(flat, ids.length, len); Tensor e = encodeTexts(t, normalize)) {
            return e.toFloatRows();
        }
    }

    /**
     * logits_per_image [Ni, Nt] = exp(logit_scale) · cos(image_i, text_j) (+ logit_bias for SigLIP; HF {@code CLIPModel.forward},
     * {@code SiglipModel.forward}); logits_per_text is its transpose. Inputs need not be normalized.
     */
    public float[][] similarity(float[][] imageEmbeds, float[][] textEmbeds) {
        double scale = Math.exp(logitScale);
        float[][] out = new float[imageEmbeds.length][textEmbeds.length];
        for (int i = 0; i < imageEmbeds.length; i++) {
            for (int j = 0; j < textEmbeds.length; j++) {
                float[] a = imageEmbeds[i], b = textEmbeds[j];
                if (a.length != b.length) throw new IllegalArgumentException("embedding sizes differ: " + a.length + " vs " + b.length);
                double dot = 0, na = 0, nb = 0;
                for (int k = 0; k < a.length; k++) {
                    dot += (double) a[k] * b[k];
                    na += (double) a[k] * a[k];
                    nb += (double) b[k] * b[k];
                }
                out[i][j] = (float) (scale * dot / Math.sqrt(na * nb) + logitBias);
            }
        }
        return out;
    }

    /** {@link #similarity(float[][], float[][])} of embedding tensors F32 [Ni, E] and [Nt, E]. */
    public float[][] similarity(Tensor imageEmbeds, Tensor textEmbeds) {
        OpChecks.requireF32("similarity", "imageEmbeds", imageEmbeds);
        OpChecks.requireRank("similarity", "imageEmbeds", imageEmbeds, 2);
        OpChecks.requireF32("similarity", "textEmbeds", textEmbeds);
        OpChecks.requireRank("similarity", "textEmbeds", textEmbeds, 2);
        return similarity(imageEmbeds.toFloatRows(), textEmbeds.toFloatRows());
    }

    private static float[] flatten(float[][] rows, long per, String what) {
        float[] flat = new float[Math.toIntExact(rows.length * per)];
        for (int i = 0; i < rows.length; i++) {
            if (rows[i].length != per) throw new IllegalArgumentException(what + " " + i + " has " + rows[i].length + " values, expected " + per);
            System.arraycopy(rows[i], 0, flat, (int) (i * per), (int) per);
        }
        return flat;
    }

    @Override
    public void close() {
        detachLora();
        closeReplays();
        if (vision != null) vision.close();
        if (text != null) text.close();
        if (ownsBackend) backend.close();
    }
}
