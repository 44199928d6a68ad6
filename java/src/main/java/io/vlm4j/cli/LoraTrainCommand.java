package io.vlm4j.cli;

import io.vlm4j.backend.Backend;
import io.vlm4j.data.ImageDataset;
import io.vlm4j.eval.report.EvalSplits;
import io.vlm4j.image.ImagePreprocessor;
import io.vlm4j.lora.LoraConfig;
import io.vlm4j.lora.LoraWeights;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.text.Tokenizer;
import io.vlm4j.text.Tokenizers;
import io.vlm4j.train.AdamW;
import io.vlm4j.train.LoraTrainer;
import io.vlm4j.train.LrSchedule;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "lora-train", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"LoRA fine-tuning of a CLIP-family model (CLIP, BiomedCLIP, SigLIP) on a labelled image dataset; writes a PEFT adapter (+ head), metrics CSVs, "
                + "a curve PNG and resumable checkpoints under --out.",
                "DATASET: folder:PATH, csv:FILE, medmnist:FILE.npz, idx:DIR, or a path (kind recognized)."})
final class LoraTrainCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "base model directory (config.json + safetensors)")
    Path model;

    @Option(names = "--train", required = true, paramLabel = "DATASET", description = "training data (its train split when it has splits)")
    String trainSpec;

    @Option(names = "--val", paramLabel = "DATASET", description = "validation data (default: --train's val split, or a seeded 10% of its train split)")
    String valSpec;

    @Option(names = "--out", required = true, description = "output directory: adapter/, checkpoint/, metrics.csv, epochs.csv, curves.png")
    Path out;

    @Option(names = "--targets", defaultValue = "q_proj,v_proj", description = "modules to adapt: names matched as PEFT does (CLIP/SigLIP: q_proj, k_proj, "
            + "v_proj, out_proj, fc1, fc2, visual_projection, ...; timm: qkv, proj; BERT: query, key, value, dense), or all-linear "
            + "(default: ${DEFAULT-VALUE})")
    String targets;

    @Option(names = "--rank", defaultValue = "8", description = "LoRA rank r (default: ${DEFAULT-VALUE})")
    int rank;

    @Option(names = "--alpha", defaultValue = "16", description = "LoRA alpha; scale alpha/r (default: ${DEFAULT-VALUE})")
    double alpha;

    @Option(names = "--rslora", description = "scale alpha/sqrt(r) (rsLoRA)")
    boolean rsLora;

    @Option(names = "--lora-dropout", defaultValue = "0", description = "dropout on the adapter input (default: ${DEFAULT-VALUE})")
    double dropout;

    @Option(names = "--objective", defaultValue = "classify",
            description = "classify (head on the image embedding), zero-shot-head (head initialized from class prompts) or contrastive "
                    + "(image vs class-prompt caption, both towers) (default: ${DEFAULT-VALUE})")
    String objective;

    @Option(names = "--epochs", defaultValue = "1", description = "passes over the training data (default: ${DEFAULT-VALUE})")
    int epochs;

    @Option(names = "--max-steps", defaultValue = "0", description = "stop after this many optimizer steps (0: no limit)")
    long maxSteps;

    @Option(names = "--lr", defaultValue = "1e-3", description = "peak learning rate (default: ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--schedule", defaultValue = "cosine", description = "constant, linear or cosine decay after warmup (default: ${DEFAULT-VALUE})")
    String schedule;

    @Option(names = "--warmup", defaultValue = "0.05", description = "warmup as a fraction of all steps (default: ${DEFAULT-VALUE})")
    double warmup;

    @Option(names = "--weight-decay", defaultValue = "0.01", description = "AdamW decoupled weight decay (not on biases/temperature) (default: ${DEFAULT-VALUE})")
    double weightDecay;

    @Option(names = "--betas", defaultValue = "0.9,0.999", description = "AdamW betas (default: ${DEFAULT-VALUE})")
    String betas;

    @Option(names = "--clip-grad", defaultValue = "1.0", description = "clip the total gradient norm to this (0: off) (default: ${DEFAULT-VALUE})")
    double clipGrad;

    @Option(names = "--accumulate", defaultValue = "1", description = "micro-batches per optimizer step (default: ${DEFAULT-VALUE})")
    int accumulate;

    @Option(names = "--label-smoothing", defaultValue = "0", description = "cross-entropy label smoothing (default: ${DEFAULT-VALUE})")
    double labelSmoothing;

    @Option(names = "--activation-checkpointing", description = "keep only each layer's input and recompute the rest in the backward (less memory)")
    boolean checkpointActivations;

    @Option(names = "--checkpoint-every", defaultValue = "0", description = "write a checkpoint every N steps (always at the end)")
    int checkpointEvery;

    @Option(names = "--resume", description = "continue the run in --out from its checkpoint, exactly")
    boolean resume;

    @Option(names = "--init-adapter", paramLabel = "DIR", description = "start from this PEFT adapter instead of a fresh one (its config wins)")
    Path initAdapter;

    @Option(names = "--template", description = "prompt with {} for the class (zero-shot-head, contrastive); repeat for several (default: \"a photo of a {}.\")")
    List<String> templates;

    @Option(names = "--tokenizer", description = "directory with tokenizer files (default: the model directory)")
    Path tokenizer;

    @Option(names = "--max-train", defaultValue = "0", description = "cap on training items, stratified (0: all)")
    int maxTrain;

    @Option(names = "--max-val", defaultValue = "0", description = "cap on validation items, stratified (0: all)")
    int maxVal;

    @Option(names = "--seed", defaultValue = "0", description = "seed of the adapter init, data order, dropout and splits (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--class-names", description = "class names, one per line, in label order (default: the format's own)")
    Path classNames;

    @Mixin
    ImageOptions imageOptions;

    @Mixin
    BackendOptions options;

    @Override
    public Integer call() throws Exception {
        LoraTrainer.Objective obj = LoraTrainer.Objective.parse(objective);
        double[] b = Arrays.stream(betas.split(",")).mapToDouble(Double::parseDouble).toArray();
        if (b.length != 2) throw new IllegalArgumentException("--betas takes two numbers, e.g. 0.9,0.999");
        ImageDataset[] data = datasets();
        try (Backend backend = options.open(); ClipModel clip = ClipModel.load(model, backend)) {
            clip.batchSize(options.batch);
            Tokenizer tok = obj == LoraTrainer.Objective.CLASSIFY ? null : Tokenizers.load(tokenizer != null ? tokenizer : model);
            ImagePreprocessor pre = ImagePipelines.forModel(model, clip, imageOptions);
            LoraTrainer.Options o = new LoraTrainer.Options(obj, epochs, maxSteps, options.batch, accumulate, lr, LrSchedule.Kind.parse(schedule),
                    warmup, clipGrad, new AdamW.Hyper(b[0], b[1], 1e-8, weightDecay), seed, checkpointActivations, checkpointEvery,
                    labelSmoothing, io.vlm4j.model.clip.ZeroShotClassifier.templatesOrDefault(templates), tok == null ? 77 : tok.defaultContext());
            try (LoraWeights init = initialAdapter(clip); Progress bar = Progress.start("lora-train", 1, true)) {
                System.out.printf(Locale.ROOT, "train %d, val %d items, %d classes; adapter: %d modules, %d trainable values; backend %s %s%n",
                        data[0].size(), data[1].size(), data[0].numClasses(), init.size(), init.parameterCount(), backend.name(), backend.computeType());
                LoraTrainer trainer = new LoraTrainer(clip, pre, data[0], data[1], tok, o, out, new LoraTrainer.Listener() {
                    Progress p;

                    @Override
                    public void started(long total, long done) {
                        p = Progress.start("lora-train", total, true);
                        p.step(done);
                    }

                    @Override
                    public void step(LoraTrainer.StepRecord r) {
                        p.step(1);
                        p.extra(String.format(Locale.ROOT, "loss %.4f acc %.3f %.1f img/s", r.loss(), r.accuracy(), r.itemsPerSecond()));
                    }

                    @Override
                    public void epoch(LoraTrainer.EpochRecord r) {
                        System.out.printf(Locale.ROOT, "epoch %d (step %d): train loss %.4f acc %.4f, val loss %.4f acc %.4f%n", r.epoch(), r.step(),
                                r.trainLoss(), r.trainAccuracy(), r.valLoss(), r.valAccuracy());
                    }
                });
                LoraTrainer.Result res = trainer.run(init, resume);
                System.out.printf(Locale.ROOT, "done: %d steps, validation accuracy %.4f; adapter in %s%n", res.stepCount(), res.finalValAccuracy(),
                        res.adapterDir());
            }
        }
        return 0;
    }

    private LoraWeights initialAdapter(ClipModel clip) throws java.io.IOException {
        if (initAdapter != null) return LoraWeights.load(initAdapter, clip.linears());
        List<String> t = Arrays.stream(targets.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
        LoraConfig cfg = t.size() == 1 && t.get(0).equals(LoraConfig.ALL_LINEAR)
                ? new LoraConfig(rank, alpha, rsLora, dropout, List.of(), LoraConfig.ALL_LINEAR, List.of(), null, java.util.Set.of(),
                java.util.Map.of(), java.util.Map.of(), model.toString(), null)
                : LoraConfig.of(t, rank, alpha, rsLora, dropout).withBaseModel(model.toString());
        return LoraWeights.init(cfg, clip.linears(), seed);
    }

    /** {train, val}: from --train's splits, or --val. */
    private ImageDataset[] datasets() throws java.io.IOException {
        ImageDataset all = io.vlm4j.data.Datasets.open(trainSpec, java.util.Optional.ofNullable(classNames));
        ImageDataset train, val;
        if (valSpec != null) {
            train = all.splits().contains(ImageDataset.TRAIN) ? all.split(ImageDataset.TRAIN) : all;
            ImageDataset v = io.vlm4j.data.Datasets.open(valSpec, java.util.Optional.ofNullable(classNames));
            val = v.splits().contains(ImageDataset.VAL) ? v.split(ImageDataset.VAL) : v;
            if (!v.classNames().equals(all.classNames())) {
                throw new IllegalArgumentException("--val has classes " + v.classNames() + " but --train has " + all.classNames());
            }
        } else {
            EvalSplits s = EvalSplits.of(all, EvalSplits.Caps.none(seed));
            train = s.train();
            val = s.val();
        }
        if (maxTrain > 0 && train.size() > maxTrain) train = train.subsample(maxTrain, seed);
        if (maxVal > 0 && val.size() > maxVal) val = val.subsample(maxVal, seed);
        return new ImageDataset[] {train, val};
    }
}
