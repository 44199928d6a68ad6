package io.vlm4j.data;

import static io.vlm4j.testing.DatasetFiles.png;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.image.ImagePreprocessor;
import io.vlm4j.image.ImagePreprocessor.Pipeline;
import io.vlm4j.image.PreprocessorConfig;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.tensor.NativeMemory;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Chunked pixels, and the cache's hit, miss, key and corruption paths on a tiny model written to disk. */
class EmbeddingCacheTest {
    @TempDir
    Path tmp;

    private final List<String> warnings = new ArrayList<>();
    private final ImagePreprocessor pre = new ImagePreprocessor(PreprocessorConfig.clip(20), Pipeline.HF);
    private Path modelDir;
    private ImageDataset data;
    private EmbeddingCache cache;

    @BeforeEach
    void setUp() throws Exception {
        modelDir = TinyModels.writeVisionModel(tmp.resolve("model"), 5);
        data = Datasets.open("medmnist:" + MedMnistDatasetTest.write(tmp.resolve("g.npz"), false, true));
        cache = new EmbeddingCache(tmp.resolve("cache"), warnings::add);
    }

    private EmbeddingCache.Result embed(ClipModel clip, ImageDataset d, ImagePreprocessor p) throws Exception {
        return cache.imageEmbeddings(clip, ModelIdentity.ofPath(modelDir), Optional.empty(), p, d, n -> { });
    }

    @Test
    void chunkedPixelsMatchOneBatch() throws Exception {
        try (Tensor all = pre.preprocessDecoded(data.size(), i -> {
            try {
                return data.image(i);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        })) {
            float[] want = all.toFloatArray();
            float[] got = new float[want.length];
            int per = 3 * 20 * 20;
            DatasetPixels.forEachChunk(data, pre, 3, (start, px) -> {
                assertEquals(Math.min(3, data.size() - start), px.dim(0));
                System.arraycopy(px.toFloatArray(), 0, got, start * per, (int) px.numel());
            });
            assertArrayEquals(want, got);
        }
        Path root = tmp.resolve("folder");
        for (int i = 0; i < 5; i++) png(root.resolve((i % 2 == 0 ? "a" : "b") + "/" + i + ".png"), 8, 6, 40 * i);
        ImageDataset files = Datasets.open("folder:" + root);
        List<Path> paths = IntStream.range(0, files.size()).mapToObj(i -> files.file(i).orElseThrow()).toList();
        try (Tensor all = pre.preprocess(paths); Tensor part = DatasetPixels.preprocess(files, pre, 2, 3)) {
            float[] a = all.toFloatArray();
            assertArrayEquals(java.util.Arrays.copyOfRange(a, 2 * 1200, 5 * 1200), part.toFloatArray());
        }
    }

    @Test
    void missThenHitGiveTheSameEmbeddings() throws Exception {
        long before = NativeMemory.liveBytes();
        try (CpuBackend cpu = new CpuBackend(); ClipModel clip = ClipModel.load(modelDir, cpu).batchSize(4)) {
            float[] direct;
            try (Tensor e = EmbeddingCache.compute(clip, pre, data, n -> { })) {
                direct = e.toFloatArray();
                assertArrayEquals(new long[] {10, 16}, e.shape());
            }
            try (EmbeddingCache.Result r = embed(clip, data, pre)) {
                assertFalse(r.hit());
                assertArrayEquals(direct, r.embeddings().toFloatArray());
                assertTrue(Files.isRegularFile(r.file()));
                assertEquals(r.key().digest() + ".npy", r.file().getFileName().toString());
            }
            try (EmbeddingCache.Result r = embed(clip, data, pre)) {
                assertTrue(r.hit());
                assertArrayEquals(direct, r.embeddings().toFloatArray());
            }
            try (ClipModel random = ClipModel.random(TinyModels.visionOnly(), 5, cpu); Tensor e = EmbeddingCache.compute(random, pre, data, n -> { })) {
                assertArrayEquals(direct, e.toFloatArray(), "the model on disk is RandomWeights(5)");
            }
        }
        assertEquals(List.of(), warnings);
        assertEquals(before, NativeMemory.liveBytes(), "native memory leaked");
        JsonNode json = new ObjectMapper().readTree(Files.readAllBytes(onlyEntry(".json")));
        assertEquals(EmbeddingCache.FORMAT, json.get("format").asText());
        assertTrue(json.at("/parts/model").asText().contains("config.json-sha256="), json.toString());
        assertTrue(json.at("/parts/dataset").asText().startsWith("medmnist:"), json.toString());
        assertEquals("none", json.at("/parts/adapter").asText());
        assertEquals("cpu F32", json.at("/parts/backend").asText());
        assertEquals(10, json.get("labels").size());
        assertEquals(2, json.get("labels").get(5).asInt());
        assertEquals("0", json.get("class_names").get(0).asText());
        assertTrue(json.get("created").asText().matches("\\d{4}-\\d\\d-\\d\\dT.*Z"), json.toString());
    }

    @Test
    void everyPartOfTheKeyCounts() throws Exception {
        try (CpuBackend cpu = new CpuBackend(); ClipModel clip = ClipModel.load(modelDir, cpu)) {
            String base = EmbeddingCache.key(ModelIdentity.ofPath(modelDir), Optional.empty(), data, pre, cpu).digest();
            assertEquals(base, EmbeddingCache.key(ModelIdentity.ofPath(modelDir), Optional.empty(), data, pre, cpu).digest());
            List<String> others = List.of(
                    EmbeddingCache.key(ModelIdentity.ofPath(modelDir), Optional.of(ModelIdentity.of("lora r8")), data, pre, cpu).digest(),
                    EmbeddingCache.key(ModelIdentity.ofPath(modelDir), Optional.empty(), data.split("test"), pre, cpu).digest(),
                    EmbeddingCache.key(ModelIdentity.ofPath(modelDir), Optional.empty(), data.kShot(1, 0), pre, cpu).digest(),
                    EmbeddingCache.key(ModelIdentity.ofPath(modelDir), Optional.empty(), data,
                            new ImagePreprocessor(PreprocessorConfig.clip(20), Pipeline.OPENAI), cpu).digest(),
                    EmbeddingCache.key(ModelIdentity.of("random tiny seed 5"), Optional.empty(), data, pre, cpu).digest());
            for (String o : others) assertNotEquals(base, o);
            try (EmbeddingCache.Result r = embed(clip, data, pre)) {
                assertFalse(r.hit());
            }
        }
        // new weights at the same path: the model identity (weight size/mtime) changes, so the entry is not reused
        TinyModels.writeVisionModel(modelDir, 6);
        Files.setLastModifiedTime(modelDir.resolve("model.safetensors"), FileTime.fromMillis(System.currentTimeMillis() + 5_000));
        try (CpuBackend cpu = new CpuBackend(); ClipModel clip = ClipModel.load(modelDir, cpu); EmbeddingCache.Result r = embed(clip, data, pre)) {
            assertFalse(r.hit());
        }
        assertEquals(List.of(), warnings);
    }

    private Path onlyEntry(String ext) throws Exception {
        try (var s = Files.list(tmp.resolve("cache"))) {
            List<Path> l = s.filter(p -> p.toString().endsWith(ext)).toList();
            assertEquals(1, l.size(), l.toString());
            return l.get(0);
        }
    }

    /** Breaks the entry with {@code damage}, then expects one warning containing {@code why}, a recompute, and a hit after. */
    private void recovers(ClipModel clip, float[] good, String why, ThrowingRunnable damage) throws Exception {
        damage.run();
        warnings.clear();
        try (EmbeddingCache.Result r = embed(clip, data, pre)) {
            assertFalse(r.hit(), why);
            assertArrayEquals(good, r.embeddings().toFloatArray());
        }
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains(why) && warnings.get(0).endsWith("; recomputing"), warnings.get(0));
        try (EmbeddingCache.Result r = embed(clip, data, pre)) {
            assertTrue(r.hit(), "rewritten after " + why);
        }
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    void corruptOrMismatchingEntriesAreRecomputedWithAWarning() throws Exception {
        try (CpuBackend cpu = new CpuBackend(); ClipModel clip = ClipModel.load(modelDir, cpu)) {
            float[] good;
            try (EmbeddingCache.Result r = embed(clip, data, pre)) {
                good = r.embeddings().toFloatArray();
            }
            Path npy = onlyEntry(".npy"), json = onlyEntry(".json");
            recovers(clip, good, "SHA-256 differs", () -> {
                byte[] b = Files.readAllBytes(npy);
                b[b.length - 3] ^= 0x40;
                Files.write(npy, b);
            });
            recovers(clip, good, "truncated", () -> {
                byte[] b = Files.readAllBytes(npy);
                Files.write(npy, java.util.Arrays.copyOf(b, b.length - 8));
                // a .json that agrees with the damaged file, so that the .npy check itself must catch it
                ObjectNode j = (ObjectNode) new ObjectMapper().readTree(json.toFile());
                j.put("embeddings_sha256", Fingerprints.sha256(Files.readAllBytes(npy)));
                new ObjectMapper().writeValue(json.toFile(), j);
            });
            recovers(clip, good, "not valid JSON", () -> Files.writeString(json, "{\"format\": "));
            recovers(clip, good, "parts does not match", () -> {
                ObjectNode j = (ObjectNode) new ObjectMapper().readTree(json.toFile());
                ((ObjectNode) j.get("parts")).put("dataset", "something else");
                new ObjectMapper().writeValue(json.toFile(), j);
            });
            recovers(clip, good, "labels does not match", () -> {
                ObjectNode j = (ObjectNode) new ObjectMapper().readTree(json.toFile());
                ((com.fasterxml.jackson.databind.node.ArrayNode) j.get("labels")).set(0, 2);
                new ObjectMapper().writeValue(json.toFile(), j);
            });
            recovers(clip, good, "incomplete entry", () -> Files.delete(json));
            recovers(clip, good, "missing", () -> Files.delete(npy));
        }
    }
}
