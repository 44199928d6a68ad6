package io.vlm4j.bench;

import io.vlm4j.backend.Backend;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.lora.LoraConfig;
import io.vlm4j.lora.LoraState;
import io.vlm4j.lora.LoraWeights;
import io.vlm4j.model.ImageTower;
import io.vlm4j.model.Tape;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.model.clip.ModelFamilies;
import io.vlm4j.tensor.NativeMemory;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import io.vlm4j.train.AdamW;
import io.vlm4j.train.LinearHead;
import io.vlm4j.train.Losses;
import io.vlm4j.train.Parameter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One LoRA training step of the image tower on the CPU (the work of {@code lora-train --objective classify} per batch,
 * without image decoding): training forward keeping activations, L2 normalization, a 10-class head with cross-entropy,
 * the backward through every layer, gradient clipping, the fused AdamW update and the adapter refresh. Images/s =
 * batch / time. The peak native memory of a step (activations + scratch, above the weights) is printed at the end.
 * Run: {@code java -jar benchmarks/target/benchmarks.jar LoraTrainBenchmark -p batch=8 -p checkpointing=false,true}; other
 * families by preset and their module names, e.g. {@code -p arch=biomedclip-vit-b16 -p targets=qkv} or
 * {@code -p arch=siglip-base-patch16-224 -p targets=q_proj+v_proj}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(1)
public class LoraTrainBenchmark {
    /** a preset of any family ({@link ModelFamilies#random}): ViT-B/16, biomedclip-vit-b16, ... */
    @Param({"ViT-B/16"})
    public String arch;

    @Param({"8"})
    public int batch;

    /** PEFT target names separated by ',' or '+' (JMH splits -p values at commas: write q_proj+v_proj there) */
    @Param({"q_proj,v_proj"})
    public String targets;

    @Param({"8"})
    public int rank;

    /** per-layer activation checkpointing */
    @Param({"false"})
    public boolean checkpointing;

    private Backend backend;
    private ClipModel clip;
    private LoraWeights init;
    private LoraState state;
    private LinearHead head;
    private AdamW opt;
    private Tensor pixels;
    private int[] labels;
    private long peakStepBytes;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        backend = new CpuBackend();
        clip = ModelFamilies.random(arch, 42, backend);
        init = LoraWeights.init(LoraConfig.of(Arrays.asList(targets.split("[,+]")), rank, 2 * rank, false, 0), clip.linears(), 1);
        state = clip.attachLora(init);
        ImageTower v = clip.vision().orElseThrow();
        int e = v.projectionDim();
        SplittableRandom r = new SplittableRandom(1);
        double[][] w = new double[10][e];
        for (double[] row : w) for (int j = 0; j < e; j++) row[j] = r.nextGaussian() * 0.1;
        head = new LinearHead(backend, w, new double[10]);
        List<Parameter> params = new ArrayList<>();
        for (Parameter p : state.parameters()) if (p.name().contains("vision_model") || p.name().contains("visual")) params.add(p);
        params.addAll(head.parameters());
        opt = new AdamW(backend, params, AdamW.Hyper.TORCH);
        float[] px = new float[batch * v.numChannels() * v.imageSize() * v.imageSize()];
        for (int i = 0; i < px.length; i++) px[i] = (float) r.nextGaussian();
        pixels = Tensor.of(px, batch, v.numChannels(), v.imageSize(), v.imageSize());
        labels = new int[batch];
        for (int i = 0; i < batch; i++) labels[i] = r.nextInt(10);
    }

    /** The peak native memory of a step above what was live before it (activations, gradients' scratch), in MiB. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Memory {
        public double peakStepMiB;
    }

    @Benchmark
    public double trainStep(Memory memory) {
        ImageTower tower = clip.vision().orElseThrow();
        int e = tower.projectionDim();
        long before = NativeMemory.liveBytes();
        NativeMemory.resetPeak();
        double loss;
        opt.zeroGrad();
        try (TensorScope s = new TensorScope()) {
            Tensor emb = s.f32(batch, e), u = s.f32(batch, e), du = s.f32(batch, e), dEmb = s.f32(batch, e);
            try (Tape tape = tower.forwardTrain(pixels, emb, checkpointing)) {
                backend.l2Normalize(emb, 1e-12f, u);
                float[][] uf = u.toFloatRows();
                double[][] ud = new double[batch][e];
                for (int i = 0; i < batch; i++) for (int j = 0; j < e; j++) ud[i][j] = uf[i][j];
                double[][] dz = new double[batch][10];
                loss = Losses.crossEntropy(head.logits(ud), labels, 0, dz);
                double[][] g = head.backward(ud, dz);
                float[] flat = new float[batch * e];
                for (int i = 0; i < batch; i++) for (int j = 0; j < e; j++) flat[i * e + j] = (float) g[i][j];
                du.copyFrom(flat);
                backend.l2NormalizeBackward(emb, 1e-12f, du, dEmb);
                tower.backward(tape, dEmb);
            }
        }
        opt.clipGradNorm(1.0);
        opt.step(1e-4);
        state.refresh();
        peakStepBytes = Math.max(peakStepBytes, NativeMemory.peakBytes() - before);
        memory.peakStepMiB = (NativeMemory.peakBytes() - before) / 1048576.0;
        return loss;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        System.out.printf("%nLoraTrainBenchmark %s batch %d checkpointing %s: peak native memory of a step above the weights %.1f MiB%n",
                arch, batch, checkpointing, peakStepBytes / 1048576.0);
        opt.close();
        head.close();
        clip.close();
        init.close();
        pixels.close();
        backend.close();
    }
}
