package io.vlm4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.backend.Backend;
import io.vlm4j.data.DatasetPixels;
import io.vlm4j.data.ImageDataset;
import io.vlm4j.image.ImagePreprocessor;
import io.vlm4j.io.AtomicFiles;
import io.vlm4j.io.SafetensorsWriter;
import io.vlm4j.io.StrictJson;
import io.vlm4j.io.WeightStore;
import io.vlm4j.lora.LoraState;
import io.vlm4j.lora.LoraWeights;
import io.vlm4j.model.ImageTower;
import io.vlm4j.model.Tape;
import io.vlm4j.model.TextTower;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.model.clip.ZeroShotClassifier;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import io.vlm4j.text.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * LoRA fine-tuning of a CLIP model on a labelled image dataset (spec 05, 07). Objectives:
 * <ul>
 *   <li>{@code classify}: a linear head on the L2-normalized image embedding, cross-entropy; the head starts at zero;</li>
 *   <li>{@code zero-shot-head}: the same head initialized from the zero-shot classifier of the class prompts, scaled by
 *       exp(logit_scale) (WiSE-FT/FLYP practice, spec 07 §5);</li>
 *   <li>{@code contrastive}: CLIP's symmetric InfoNCE between each image and a caption made from its class name with a
 *       prompt template (FLYP), with a learnable temperature clamped to [0, ln 100] after each step; adapters in both
 *       towers train. Validation is zero-shot accuracy with the adapted text tower. For SigLIP ({@link ClipModel#sigmoidLogits()})
 *       the loss is the sigmoid loss instead (spec 07 §2, {@link Losses#sigmoid}) with a learnable temperature and logit bias
 *       (both from the checkpoint, not clamped: HF and big_vision do not clamp, and trained SigLIP holds t above ln 100).
 *       Several images of one class in a batch get the same caption (with one template, the same embedding); InfoNCE
 *       keeps FLYP's one positive per row, but the sigmoid loss, which scores every pair on its own, labels a pair
 *       positive when image and caption share the class, since it would otherwise push one logit both up and down.</li>
 * </ul>
 * AdamW (fused backend kernel), warmup + constant/linear/cosine schedule, gradient clipping, gradient accumulation,
 * optional per-layer activation checkpointing. Deterministic for a seed on the CPU: the data order of epoch e is a
 * permutation drawn from (seed, e) and dropout masks from (seed, step, micro-batch), so {@code resume} continues a run
 * exactly. A checkpoint (adapter, head, optimizer state, trainer state) is written atomically every N steps and at the
 * end; the metrics CSVs and the curve PNG are rewritten with it.
 *
 * <p>Compute type: the backend's. Training needs the linear weights in the compute type (the backward multiplies by W
 * untransposed), so the CPU backend's BF16-weight mode is refused; on CUDA, {@code --dtype bf16} trains with BF16
 * activations and F32 master weights and optimizer state.
 */
public final class LoraTrainer {

    public enum Objective {
        CLASSIFY, ZERO_SHOT_HEAD, CONTRASTIVE;

        public static Objective parse(String s) {
            return switch (s.toLowerCase(java.util.Locale.ROOT)) {
                case "classify", "ce" -> CLASSIFY;
                case "zero-shot-head", "zs-head" -> ZERO_SHOT_HEAD;
                case "contrastive", "clip" -> CONTRASTIVE;
                default -> throw new IllegalArgumentException("unknown objective '" + s + "' (classify, zero-shot-head, contrastive)");
            };
        }

        String cli() { return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'); }
    }

    /** Everything that determines a run (saved in the checkpoint; a resumed run must be given the same). */
    public record Options(Objective objective, int epochs, long maxSteps, int batch, int accumulation, double lr,
                          LrSchedule.Kind schedule, double warmupFraction, double maxGradNorm, AdamW.Hyper hyper, long seed,
                          boolean checkpointActivations, int checkpointEvery, double labelSmoothing, List<String> templates,
                          int context) {
        public Options {
            if (epochs < 1) throw new IllegalArgumentException("epochs must be >= 1, got " + epochs);
            if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
            if (accumulation < 1) throw new IllegalArgumentException("accumulation must be >= 1, got " + accumulation);
            if (!(warmupFraction >= 0 && warmupFraction < 1)) throw new IllegalArgumentException("warmup must be in [0, 1), got " + warmupFraction);
            if (checkpointEvery < 0) throw new IllegalArgumentException("checkpoint interval must be >= 0");
            templates = ZeroShotClassifier.templatesOrDefault(templates);
        }
    }

    /** One optimizer step. */
    public record StepRecord(long step, int epoch, double loss, double accuracy, double lr, double gradNorm, double itemsPerSecond,
                             double seconds) {}

    /** One epoch's end: means over its steps and the validation figures. */
    public record EpochRecord(int epoch, long step, double trainLoss, double trainAccuracy, double valLoss, double valAccuracy) {}

    /** Receives progress (e.g. a progress bar). */
    public interface Listener {
        default void started(long totalSteps, long doneSteps) {}

        default void step(StepRecord r) {}

        default void epoch(EpochRecord r) {}
    }

    /** What a finished run produced. */
    public record Result(long stepCount, List<StepRecord> steps, List<EpochRecord> epochs, double finalValAccuracy, Path adapterDir) {}

    static final float NORM_EPS = 1e-12f;
    private static final double MAX_LOGIT_SCALE = Math.log(100);
    public static final String CHECKPOINT = "checkpoint", ADAPTER = "adapter";
    /** Beside a contrastive run's adapter: the trained logit_scale [1] (and SigLIP's logit_bias [1]). */
    public static final String LOGITS_FILE = "logits.safetensors";
    /** The keys of the contrastive objective's temperature and (SigLIP) logit bias in the checkpoint's optimizer.safetensors. */
    static final String LOGIT_SCALE = "logit_scale", LOGIT_BIAS = "logit_bias";

    private final ClipModel model;
    private final Backend backend;
    private final ImagePreprocessor pre;
    private final ImageDataset train, val;
    private final Tokenizer tokenizer;
    private final Options o;
    private final Path out;
    private final Listener listener;

    public LoraTrainer(ClipModel model, ImagePreprocessor pre, ImageDataset train, ImageDataset val, Tokenizer tokenizer,
                       Options options, Path out, Listener listener) {
        this.model = model;
        this.backend = model.backend();
        this.pre = pre;
        this.train = train;
        this.val = val;
        this.tokenizer = tokenizer;
        this.o = options;
        this.out = out;
        this.listener = listener == null ? new Listener() {} : listener;
        if (model.vision().isEmpty()) throw new IllegalArgumentException("lora-train: the model has no image tower");
        if (!model.vision().get().trainable()) {
            throw new IllegalArgumentException("lora-train: training of the " + model.vision().get().family()
                    + " image tower is not supported");
        }
        if (train.multiLabel()) throw new IllegalArgumentException("lora-train: multi-label datasets are not supported yet (single-label classes only)");
        if (train.size() == 0) throw new IllegalArgumentException("lora-train: the training set is empty");
        if (backend.weightType() != backend.computeType()) {
            throw new IllegalArgumentException("lora-train: the " + backend.name() + " backend holds weights in " + backend.weightType()
                    + " but computes in " + backend.computeType() + "; training needs them equal (use --dtype fp32 on the CPU)");
        }
        if (o.objective() == Objective.CONTRASTIVE && model.text().isPresent() && !model.text().get().trainable()) {
            throw new IllegalArgumentException("lora-train: contrastive training of the " + model.text().get().family()
                    + " text tower is not supported");
        }
        if (o.objective() != Objective.CLASSIFY && (tokenizer == null || model.text().isEmpty())) {
            throw new IllegalArgumentException("lora-train: objective " + o.objective().cli() + " needs the text tower and a tokenizer");
        }
    }

    /** Steps per epoch: ⌈N / (batch · accumulation)⌉. */
    public long stepsPerEpoch() {
        return (train.size() + (long) o.batch() * o.accumulation() - 1) / ((long) o.batch() * o.accumulation());
    }

    public long totalSteps() {
        long t = stepsPerEpoch() * o.epochs();
        return o.maxSteps() > 0 ? Math.min(t, o.maxSteps()) : t;
    }

    /**
     * Trains {@code adapter} (attached to the model for the run; the caller keeps ownership of the weights object, whose
     * tensors are not changed) and writes the result under the output directory. With {@code resume}, continues from
     * {@code out/checkpoint} exactly where it stopped.
     */
    public Result run(LoraWeights adapter, boolean resume) throws IOException {
        Files.createDirectories(out);
        LoraState state = model.attachLora(adapter);
        try (TensorScope owned = new TensorScope(backend.device())) {
            List<Parameter> params = new ArrayList<>();
            boolean textTrains = o.objective() == Objective.CONTRASTIVE;
            Set<String> textKeys = new HashSet<>();  // the text tower's adapters, whatever its family's names
            for (LoraWeights.Linear l : model.text().map(TextTower::linears).orElse(List.of())) {
                textKeys.add(LoraWeights.key(l.path(), true));
                textKeys.add(LoraWeights.key(l.path(), false));
            }
            for (Parameter p : state.parameters()) {
                if (!textKeys.contains(p.name()) || textTrains) params.add(p);
            }
            if (params.isEmpty()) throw new IllegalArgumentException("lora-train: the adapter has no module in the tower(s) this objective trains");
            LinearHead head = o.objective() == Objective.CONTRASTIVE ? null : initHead();
            Parameter logitScale = null, logitBias = null;
            if (head != null) params.addAll(head.parameters());
            if (textTrains) {
                logitScale = scalar(LOGIT_SCALE, model.logitScale(), owned);
                params.add(logitScale);
                if (model.sigmoidLogits()) {
                    logitBias = scalar(LOGIT_BIAS, model.logitBias(), owned);
                    params.add(logitBias);
                }
            }
            try (AdamW opt = new AdamW(backend, params, o.hyper()); LinearHead h = head) {
                Run run = new Run(state, opt, h, logitScale, logitBias);
                if (resume) run.restore();
                return run.go();
            }
        } finally {
            model.detachLora();
        }
    }

    /** A trainable scalar [1] starting at {@code value}, without weight decay (spec 07 §1.3). */
    private static Parameter scalar(String name, float value, TensorScope owned) {
        Tensor t = owned.f32(1);
        t.copyFrom(new float[] {value});
        return new Parameter(name, t, owned.f32(1), false);
    }

    /**
     * The head: zero (classify) or the zero-shot classifier's normalized class weights (zero-shot-head); either way with
     * logit scale exp(logit_scale) of the model, so that the zero-shot head starts as the zero-shot classifier with the
     * model's temperature.
     */
    private LinearHead initHead() {
        int c = train.numClasses(), e = model.vision().get().projectionDim();
        double[][] w = new double[c][e];
        if (o.objective() == Objective.ZERO_SHOT_HEAD) {
            ZeroShotClassifier zs = ZeroShotClassifier.build(model, tokenizer, train.classNames(), o.templates(), o.context(), 1f);
            w = zs.head().classWeights();
        }
        return new LinearHead(backend, w, new double[c], Math.exp(model.logitScale()));
    }

    /** The mutable state of one run. */
    private final class Run {
        final LoraState state;
        final AdamW opt;
        final LinearHead head;
        final Parameter logitScale;
        final Parameter logitBias;  // SigLIP's, with the sigmoid loss; else null
        final List<StepRecord> steps = new ArrayList<>();
        final List<EpochRecord> epochs = new ArrayList<>();
        long step;          // optimizer steps done
        int epoch;          // current epoch (0-based)
        long micro;         // micro-batches consumed in the current epoch
        final long total = totalSteps();
        int[] textIds;      // per class (contrastive): token ids of its caption under each template, [C·T][context]

        Run(LoraState state, AdamW opt, LinearHead head, Parameter logitScale, Parameter logitBias) {
            this.state = state;
            this.opt = opt;
            this.head = head;
            this.logitScale = logitScale;
            this.logitBias = logitBias;
        }

        Result go() throws IOException {
            listener.started(total, step);
            long perEpoch = stepsPerEpoch();
            double epochLoss = 0, epochAcc = 0;
            int epochSteps = 0;
            while (step < total) {
                int[] order = permutation(train.size(), o.seed() * 1_000_003L + epoch);
                long microPerEpoch = (train.size() + o.batch() - 1) / o.batch();
                while (micro < microPerEpoch && step < total) {
                    long t0 = System.nanoTime();
                    opt.zeroGrad();
                    double loss = 0, correct = 0;
                    int items = 0, parts = (int) Math.min(o.accumulation(), microPerEpoch - micro);
                    for (int a = 0; a < parts; a++, micro++) {
                        int from = (int) (micro * o.batch()), to = Math.min(train.size(), from + o.batch());
                        int[] idx = java.util.Arrays.copyOfRange(order, from, to);
                        double[] lc = microStep(idx, parts, o.seed() ^ (step * 0x9E3779B97F4A7C15L + a));
                        loss += lc[0] * idx.length;
                        correct += lc[1];
                        items += idx.length;
                    }
                    double norm = opt.clipGradNorm(o.maxGradNorm());
                    double lr = schedule().at(step + 1);
                    opt.step(lr);
                    step++;
                    state.refresh();
                    if (logitScale != null && logitBias == null) clampLogitScale();
                    double secs = (System.nanoTime() - t0) / 1e9;
                    StepRecord r = new StepRecord(step, epoch + 1, loss / items, correct / items, lr, norm, items / secs, secs);
                    steps.add(r);
                    epochLoss += r.loss();
                    epochAcc += r.accuracy();
                    epochSteps++;
                    listener.step(r);
                    if (!Double.isFinite(r.loss())) throw new IllegalStateException("lora-train: the loss became " + r.loss() + " at step " + step + " (lower --lr?)");
                    if (o.checkpointEvery() > 0 && step % o.checkpointEvery() == 0 && step < total) saveCheckpoint();
                }
                if (micro >= microPerEpoch) {
                    double[] v = validate();
                    EpochRecord e = new EpochRecord(epoch + 1, step, epochSteps == 0 ? Double.NaN : epochLoss / epochSteps,
                            epochSteps == 0 ? Double.NaN : epochAcc / epochSteps, v[0], v[1]);
                    epochs.add(e);
                    listener.epoch(e);
                    epoch++;
                    micro = 0;
                    epochLoss = epochAcc = 0;
                    epochSteps = 0;
                }
            }
            if (epochs.isEmpty() || epochs.get(epochs.size() - 1).step() != step) {  // stopped by --max-steps mid-epoch
                double[] v = validate();
                EpochRecord e = new EpochRecord(epoch + 1, step, Double.NaN, Double.NaN, v[0], v[1]);
                epochs.add(e);
                listener.epoch(e);
            }
            saveCheckpoint();
            Path adapterDir = out.resolve(ADAPTER);
            saveAdapter(adapterDir);
            return new Result(step, List.copyOf(steps), List.copyOf(epochs), epochs.get(epochs.size() - 1).valAccuracy(), adapterDir);
        }

        LrSchedule schedule() {
            return new LrSchedule(o.schedule(), o.lr(), Math.round(o.warmupFraction() * total), total);
        }

        /** One micro-batch: forward, loss, backward (gradients scaled by 1/parts); returns {mean loss, correct count}. */
        double[] microStep(int[] idx, int parts, long seed) throws IOException {
            ImageTower vision = model.vision().orElseThrow();
            int b = idx.length;
            long e = vision.projectionDim();
            int[] labels = new int[b];
            for (int i = 0; i < b; i++) labels[i] = train.label(idx[i]);
            state.dropoutStep(seed, true);
            try (Tensor pixels = DatasetPixels.preprocess(train, pre, idx); TensorScope s = new TensorScope(backend.device())) {
                Tensor devPixels = pixels.device() == backend.device() ? pixels : s.track(backend.onDevice(pixels));
                Tensor emb = s.f32(b, e);
                try (Tape tape = vision.forwardTrain(devPixels, emb, o.checkpointActivations())) {
                    double[][] u = normalized(emb, s);
                    double[][] du = new double[b][(int) e];
                    double loss, correct = 0;
                    if (head != null) {
                        double[][] z = head.logits(u), dz = new double[b][head.classes()];
                        loss = Losses.crossEntropy(z, labels, o.labelSmoothing(), dz);
                        scale(dz, 1.0 / parts);
                        du = head.backward(u, dz);
                        int[] pred = argmax(z);
                        for (int i = 0; i < b; i++) if (pred[i] == labels[i]) correct++;
                    } else {
                        double[] lc = contrastive(idx, labels, u, du, parts, seed, s);
                        loss = lc[0];
                        correct = lc[1];
                    }
                    Tensor dEmb = s.f32(b, e);
                    backend.l2NormalizeBackward(emb, NORM_EPS, onDevice(du, s), dEmb);
                    vision.backward(tape, dEmb);
                    return new double[] {loss, correct};
                }
            }
        }

        /** The contrastive loss with the batch's captions; runs the text tower's forward and backward, fills du. */
        double[] contrastive(int[] idx, int[] labels, double[][] u, double[][] du, int parts, long seed, TensorScope s) {
            TextTower text = model.text().orElseThrow();
            int b = idx.length, t = o.templates().size(), ctx = o.context();
            if (textIds == null) {
                List<String> prompts = new ArrayList<>();
                for (String c : train.classNames()) for (String tpl : o.templates()) prompts.add(tpl.replace("{}", c));
                try (Tensor ids = tokenizer.encodeBatch(prompts, ctx)) {
                    textIds = ids.toIntArray();
                }
            }
            SplittableRandom rnd = new SplittableRandom(seed);
            int[] batchIds = new int[b * ctx];
            for (int i = 0; i < b; i++) {
                int row = labels[i] * t + (t == 1 ? 0 : rnd.nextInt(t));
                System.arraycopy(textIds, row * ctx, batchIds, i * ctx, ctx);
            }
            long e = text.projectionDim();
            try (Tensor ids = Tensor.ofInts(batchIds, b, ctx)) {
                Tensor temb = s.f32(b, e);
                try (Tape tape = text.forwardTrain(ids, null, temb, o.checkpointActivations())) {
                    double[][] v = normalized(temb, s), dv = new double[b][(int) e];
                    double logT = logitScale.value().toFloatArray()[0];
                    double[] r = logitBias == null ? Losses.clipContrastive(u, v, logT, du, dv)
                            : Losses.sigmoid(u, v, logT, logitBias.value().toFloatArray()[0], labels, du, dv);  // same class: positive
                    scale(du, 1.0 / parts);
                    scale(dv, 1.0 / parts);
                    accumulate(logitScale, r[1] / parts, s);
                    if (logitBias != null) accumulate(logitBias, r[2] / parts, s);
                    Tensor dTemb = s.f32(b, e);
                    backend.l2NormalizeBackward(temb, NORM_EPS, onDevice(dv, s), dTemb);
                    text.backward(tape, dTemb);
                    double correct = 0;
                    for (int i = 0; i < b; i++) {  // image i's best caption carries its class
                        int best = 0;
                        for (int j = 1; j < b; j++) if (dot(u[i], v[j]) > dot(u[i], v[best])) best = j;
                        if (labels[best] == labels[i]) correct++;
                    }
                    return new double[] {r[0], correct};
                }
            }
        }

        /** grad += g for a scalar parameter. */
        void accumulate(Parameter p, double g, TensorScope s) {
            Tensor dg = s.f32(1);
            dg.copyFrom(new float[] {(float) g});
            backend.add(p.grad(), dg, p.grad());
        }

        void clampLogitScale() {
            float v = logitScale.value().toFloatArray()[0];
            float c = (float) Math.max(0, Math.min(MAX_LOGIT_SCALE, v));
            if (c != v) logitScale.value().copyFrom(new float[] {c});
        }

        /** {val loss, val accuracy} with the current adapter (dropout off); NaN when there is no validation set. */
        double[] validate() throws IOException {
            if (val == null || val.size() == 0) return new double[] {Double.NaN, Double.NaN};
            state.dropoutStep(0, false);
            ImageTower vision = model.vision().orElseThrow();
            double[][] w;
            double[] bias;
            if (head != null) {
                w = head.weights();
                for (double[] row : w) for (int j = 0; j < row.length; j++) row[j] *= head.scale();
                bias = head.biases();
            } else {  // zero-shot head from the adapted text tower, scale 100 (spec 07 §3)
                ZeroShotClassifier zs = ZeroShotClassifier.build(model, tokenizer, train.classNames(), o.templates(), o.context(),
                        ZeroShotClassifier.OPEN_CLIP_SCALE);
                double[][] cw = zs.head().classWeights();
                w = new double[cw.length][];
                for (int c = 0; c < cw.length; c++) {
                    w[c] = cw[c].clone();
                    for (int j = 0; j < w[c].length; j++) w[c][j] *= zs.scale();
                }
                bias = new double[cw.length];
            }
            double loss = 0, correct = 0;
            int chunk = Math.max(o.batch(), 16);
            for (int start = 0; start < val.size(); start += chunk) {
                int n = Math.min(chunk, val.size() - start);
                try (Tensor pixels = DatasetPixels.preprocess(val, pre, start, n); TensorScope s = new TensorScope(backend.device())) {
                    Tensor devPixels = pixels.device() == backend.device() ? pixels : s.track(backend.onDevice(pixels));
                    Tensor emb = s.f32(n, vision.projectionDim());
                    vision.forward(devPixels, emb);
                    double[][] u = normalized(emb, s);
                    double[][] z = new double[n][w.length];
                    int[] labels = new int[n];
                    for (int i = 0; i < n; i++) {
                        labels[i] = val.label(start + i);
                        for (int c = 0; c < w.length; c++) z[i][c] = bias[c] + dot(w[c], u[i]);
                    }
                    loss += Losses.crossEntropy(z, labels, 0, new double[n][w.length]) * n;
                    int[] pred = argmax(z);
                    for (int i = 0; i < n; i++) if (pred[i] == labels[i]) correct++;
                }
            }
            return new double[] {loss / val.size(), correct / val.size()};
        }

        // ---- checkpoints ----

        void saveCheckpoint() throws IOException {
            Path dir = out.resolve(CHECKPOINT), tmp = out.resolve("." + CHECKPOINT + ".tmp"), old = out.resolve("." + CHECKPOINT + ".old");
            deleteTree(tmp);
            saveAdapter(tmp);
            try (TensorScope host = new TensorScope()) {
                SafetensorsWriter w = new SafetensorsWriter();
                opt.save(w, host);
                addLogits(w, host);
                w.write(tmp.resolve("optimizer.safetensors"));
            }
            ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ObjectNode st = json.createObjectNode();
            st.put("step", step).put("epoch", epoch).put("micro_batch", micro).put("seed", o.seed())
                    .put("objective", o.objective().cli()).put("batch", o.batch()).put("accumulation", o.accumulation())
                    .put("total_steps", total).put("train_identity", train.identity() + " " + train.view());
            byte[] bytes = json.writeValueAsBytes(st);
            AtomicFiles.write(tmp.resolve("trainer_state.json"), os -> os.write(bytes));
            writeMetrics(tmp);
            // swap: checkpoint -> .old, .tmp -> checkpoint, drop .old (a crash in between leaves .old, which restore reads)
            deleteTree(old);
            if (Files.exists(dir)) Files.move(dir, old, StandardCopyOption.ATOMIC_MOVE);
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            deleteTree(old);
            writeMetrics(out);
        }

        void saveAdapter(Path dir) throws IOException {
            Files.createDirectories(dir);
            try (LoraWeights w = state.export()) {
                w.save(dir);
            }
            if (head != null) head.save(dir, train.classNames());
            if (logitScale != null) {  // the trained temperature (and SigLIP bias), applied with the adapter (AdapterOption)
                try (TensorScope host = new TensorScope()) {
                    SafetensorsWriter w = new SafetensorsWriter();
                    addLogits(w, host);
                    w.write(dir.resolve(LOGITS_FILE));
                }
            }
        }

        /** The trained logit_scale and logit_bias (those present), host copies under their names. */
        void addLogits(SafetensorsWriter w, TensorScope host) {
            for (Parameter p : new Parameter[] {logitScale, logitBias}) {
                if (p == null) continue;
                Tensor t = host.f32(1);
                t.copyFrom(p.value());
                w.add(p.name(), t);
            }
        }

        void writeMetrics(Path dir) throws IOException {
            StringBuilder sb = new StringBuilder("step,epoch,loss,accuracy,lr,grad_norm,items_per_s,seconds\n");
            for (StepRecord r : steps) {
                sb.append(String.format(java.util.Locale.ROOT, "%d,%d,%.6f,%.4f,%.6g,%.6g,%.3f,%.4f%n", r.step(), r.epoch(), r.loss(),
                        r.accuracy(), r.lr(), r.gradNorm(), r.itemsPerSecond(), r.seconds()));
            }
            byte[] a = sb.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            AtomicFiles.write(dir.resolve("metrics.csv"), os -> os.write(a));
            StringBuilder eb = new StringBuilder("epoch,step,train_loss,train_accuracy,val_loss,val_accuracy\n");
            for (EpochRecord r : epochs) {
                eb.append(String.format(java.util.Locale.ROOT, "%d,%d,%.6f,%.4f,%.6f,%.4f%n", r.epoch(), r.step(), r.trainLoss(),
                        r.trainAccuracy(), r.valLoss(), r.valAccuracy()));
            }
            byte[] e = eb.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            AtomicFiles.write(dir.resolve("epochs.csv"), os -> os.write(e));
            if (!steps.isEmpty()) TrainingCurves.write(dir.resolve("curves.png"), steps, epochs, o.objective().cli());
        }

        void restore() throws IOException {
            Path dir = out.resolve(CHECKPOINT);
            if (!Files.isDirectory(dir) && Files.isDirectory(out.resolve("." + CHECKPOINT + ".old"))) dir = out.resolve("." + CHECKPOINT + ".old");
            if (!Files.isDirectory(dir)) throw new java.nio.file.NoSuchFileException(dir.toString(), null, "no checkpoint to resume from");
            Path stFile = dir.resolve("trainer_state.json");
            JsonNode st = StrictJson.parseObject(stFile, "trainer state", Files.readAllBytes(stFile));
            if (st.path("seed").asLong() != o.seed() || !st.path("objective").asText().equals(o.objective().cli())
                    || st.path("batch").asInt() != o.batch() || st.path("accumulation").asInt() != o.accumulation()) {
                throw new IllegalArgumentException("--resume: " + stFile + " was written with objective " + st.path("objective").asText()
                        + ", seed " + st.path("seed").asLong() + ", batch " + st.path("batch").asInt() + ", accumulation "
                        + st.path("accumulation").asInt() + "; give the same settings to continue it exactly");
            }
            step = st.path("step").asLong();
            epoch = st.path("epoch").asInt();
            micro = st.path("micro_batch").asLong();
            try (LoraWeights w = LoraWeights.load(dir, model.linears())) {
                for (Parameter p : state.parameters()) {
                    String path = p.name().substring(LoraWeights.KEY_PREFIX.length(), p.name().length() - ".lora_A.weight".length());
                    LoraWeights.Module m = w.module(path);
                    if (m == null) throw new IllegalArgumentException("--resume: the checkpoint has no adapter for " + path);
                    p.value().copyFrom(p.name().endsWith(".lora_A.weight") ? m.a() : m.b());
                }
            }
            state.refresh();
            if (head != null) {
                try (LinearHead h = LinearHead.load(backend, dir)) {
                    for (int i = 0; i < 2; i++) head.parameters().get(i).value().copyFrom(h.parameters().get(i).value());
                }
            }
            try (WeightStore store = WeightStore.open(dir.resolve("optimizer.safetensors"))) {
                opt.load(store, step);
                for (Parameter p : new Parameter[] {logitScale, logitBias}) {
                    if (p == null) continue;
                    try (Tensor t = store.load(p.name(), 1)) {
                        p.value().copyFrom(t);
                    }
                }
            }
            readMetrics(dir);
        }

        void readMetrics(Path dir) throws IOException {
            Path m = dir.resolve("metrics.csv"), e = dir.resolve("epochs.csv");
            if (Files.exists(m)) {
                List<String> lines = Files.readAllLines(m);
                for (String line : lines.subList(1, lines.size())) {
                    String[] f = line.split(",");
                    steps.add(new StepRecord(Long.parseLong(f[0]), Integer.parseInt(f[1]), Double.parseDouble(f[2]), Double.parseDouble(f[3]),
                            Double.parseDouble(f[4]), Double.parseDouble(f[5]), Double.parseDouble(f[6]), Double.parseDouble(f[7])));
                }
            }
            if (Files.exists(e)) {
                List<String> lines = Files.readAllLines(e);
                for (String line : lines.subList(1, lines.size())) {
                    String[] f = line.split(",");
                    epochs.add(new EpochRecord(Integer.parseInt(f[0]), Long.parseLong(f[1]), Double.parseDouble(f[2]), Double.parseDouble(f[3]),
                            Double.parseDouble(f[4]), Double.parseDouble(f[5])));
                }
            }
        }

        double[][] normalized(Tensor emb, TensorScope s) {
            Tensor u = s.f32(emb.shape());
            backend.l2Normalize(emb, NORM_EPS, u);
            float[][] rows = u.toFloatRows();
            double[][] d = new double[rows.length][];
            for (int i = 0; i < rows.length; i++) d[i] = LinearHead.toDouble(rows[i]);
            return d;
        }

        Tensor onDevice(double[][] m, TensorScope s) {
            float[] flat = new float[m.length * m[0].length];
            for (int i = 0; i < m.length; i++) for (int j = 0; j < m[i].length; j++) flat[i * m[0].length + j] = (float) m[i][j];
            Tensor d = s.f32(m.length, m[0].length);
            d.copyFrom(flat);
            return d;
        }
    }

    /** The seeded permutation of epoch data order (Fisher–Yates). */
    static int[] permutation(int n, long seed) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1), t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    private static void scale(double[][] m, double f) {
        for (double[] row : m) for (int j = 0; j < row.length; j++) row[j] *= f;
    }

    private static int[] argmax(double[][] z) {
        int[] out = new int[z.length];
        for (int i = 0; i < z.length; i++) for (int c = 1; c < z[i].length; c++) if (z[i][c] > z[i][out[i]]) out[i] = c;
        return out;
    }

    private static double dot(double[] a, double[] b) {
        double d = 0;
        for (int k = 0; k < a.length; k++) d += a[k] * b[k];
        return d;
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }
}
