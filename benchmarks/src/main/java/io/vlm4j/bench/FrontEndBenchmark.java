package io.vlm4j.bench;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imwrite;

import io.vlm4j.image.ImagePreprocessor;
import io.vlm4j.image.PreprocessorConfig;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.text.BertTokenizer;
import io.vlm4j.text.ClipTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Front-end throughput on 2 threads' worth of work: CLIP BPE and BERT WordPiece tokenization (texts/s; typical prompts
 * and the golden cases), and image preprocessing of 512x384 PNGs to 224 (images/s: decode + Pillow-exact resize + crop +
 * normalize, batches of 32 over all cores). Scores are operations per second; one operation = one text or one image.
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar FrontEnd -p golden=../shared/golden
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 5, time = 3)
@Fork(1)
public class FrontEndBenchmark {
    static final int IMAGES = 32;
    static final int TEXTS = 1000;

    @Param({"../shared/golden"})
    public String golden;

    private ClipTokenizer clip;
    private BertTokenizer bert;
    private List<String> texts, goldenTexts;
    private ImagePreprocessor openai;
    private List<Path> pngs;
    private Path dir;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        Path tokDir = Path.of(golden, "tokenizer");
        if (!Files.isDirectory(tokDir)) throw new IllegalStateException(tokDir.toAbsolutePath() + " not found: pass -p golden=<path to shared/golden>");
        clip = ClipTokenizer.load(tokDir);
        goldenTexts = new ArrayList<>();
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(tokDir.resolve("cases.json").toFile()).get("records")
                .forEach(n -> goldenTexts.add(n.get("text").asText()));
        // a WordPiece vocabulary from the CLIP vocabulary's plain words (the benchmark measures the algorithm)
        List<String> words = new ArrayList<>(List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"));
        for (String line : Files.readAllLines(tokDir.resolve("merges.txt")).subList(1, 30000)) {
            String w = line.replace(" ", "").replace("</w>", "");
            if (w.chars().allMatch(Character::isLetter)) {
                words.add(w);
                words.add("##" + w);
            }
        }
        bert = new BertTokenizer(words.stream().distinct().toList(), BertTokenizer.Options.UNCASED, tokDir);
        String[] vocab = {"chest", "x-ray", "showing", "pneumonia", "a", "histopathology", "image", "of", "benign", "tissue", "MRI",
            "scan", "brain", "tumor", "dermoscopy", "melanoma", "nodule", "left", "lower", "lobe", "consolidation", "no", "acute",
            "findings", "café", "it's", "12", "mm", "&amp;"};
        SplittableRandom r = new SplittableRandom(1);
        texts = new ArrayList<>();
        for (int i = 0; i < TEXTS; i++) {
            StringBuilder sb = new StringBuilder();
            int n = 4 + r.nextInt(12);
            for (int j = 0; j < n; j++) sb.append(j == 0 ? "" : " ").append(vocab[r.nextInt(vocab.length)]);
            texts.add(sb.append(r.nextInt(3) == 0 ? " " + r.nextInt(1000) : "").toString());
        }
        dir = Files.createTempDirectory("vlm4j-bench");
        pngs = new ArrayList<>();
        for (int i = 0; i < IMAGES; i++) {  // smooth, photo-like content (PNG size and decode time depend on it)
            byte[] px = new byte[384 * 512 * 3];
            for (int y = 0; y < 384; y++) {
                for (int x = 0; x < 512; x++) {
                    int k = (y * 512 + x) * 3;
                    px[k] = (byte) (128 + 100 * Math.sin((x + 7 * i) / 40.0));
                    px[k + 1] = (byte) (128 + 100 * Math.cos(y / 30.0));
                    px[k + 2] = (byte) ((x * y / 64 + r.nextInt(8)) & 0xFF);
                }
            }
            Path p = dir.resolve("img" + i + ".png");
            try (BytePointer data = new BytePointer(px); Mat m = new Mat(384, 512, CV_8UC3, data)) {
                if (!imwrite(p.toString(), m)) throw new IllegalStateException("cannot write " + p);
            }
            pngs.add(p);
        }
        openai = new ImagePreprocessor(PreprocessorConfig.clip(224), ImagePreprocessor.Pipeline.OPENAI);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        for (Path p : pngs) Files.deleteIfExists(p);
        Files.deleteIfExists(dir);
    }

    @Benchmark
    @OperationsPerInvocation(TEXTS)
    public Object clipBpeWarm() {
        try (Tensor t = clip.encodeBatch(texts, 77)) {
            return t.dim(0);
        }
    }

    /** The 200 golden texts: long ones, many scripts, emoji, entities, mojibake (the cleaner's slow paths). */
    @Benchmark
    @OperationsPerInvocation(200)
    public Object clipBpeGoldenTexts() {
        try (Tensor t = clip.encodeBatch(goldenTexts, 77)) {
            return t.dim(0);
        }
    }

    @Benchmark
    @OperationsPerInvocation(TEXTS)
    public Object bertWordPiece() {
        try (Tensor t = bert.encodeBatch(texts, 256)) {
            return t.dim(0);
        }
    }

    @Benchmark
    @OperationsPerInvocation(IMAGES)
    public Object preprocessPng512x384To224() throws Exception {
        try (Tensor t = openai.preprocess(pngs)) {
            return t.dim(0);
        }
    }
}
