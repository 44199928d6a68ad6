package io.vlm4j.model.clip;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.io.Npy;
import io.vlm4j.io.SafetensorsWriter;
import io.vlm4j.io.WeightStore;
import io.vlm4j.tensor.NativeMemory;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import io.vlm4j.testing.Golden;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every supported directory layout loads and gives the golden embeddings: CLIPModel split into two shards with an
 * index, CLIPVisionModelWithProjection and CLIPTextModelWithProjection directories (built here from the tiny model).
 */
class ClipModelLoadTest {
    @TempDir
    Path tmp;

    private final ObjectMapper json = new ObjectMapper();

    @Test
    void shardedCheckpointLoads() throws Exception {
        Path golden = Golden.dir();
        Path dir = Files.createDirectories(tmp.resolve("sharded"));
        Files.copy(golden.resolve("models/tiny/config.json"), dir.resolve("config.json"));
        ObjectNode index = json.createObjectNode();
        index.putObject("metadata").put("total_size", 0);
        ObjectNode map = index.putObject("weight_map");
        try (WeightStore store = WeightStore.open(golden.resolve("models/tiny")); TensorScope scope = new TensorScope()) {
            SafetensorsWriter[] shards = {new SafetensorsWriter(), new SafetensorsWriter()};
            List<String> names = new ArrayList<>(store.names());
            for (int i = 0; i < names.size(); i++) {
                String file = "model-0000" + (i % 2 + 1) + "-of-00002.safetensors";
                shards[i % 2].add(names.get(i), scope.track(store.load(names.get(i))));
                map.put(names.get(i), file);
            }
            shards[0].write(dir.resolve("model-00001-of-00002.safetensors"));
            shards[1].write(dir.resolve("model-00002-of-00002.safetensors"));
        }
        json.writeValue(dir.resolve("model.safetensors.index.json").toFile(), index);
        try (ClipModel clip = ClipModel.load(dir, new CpuBackend())) {
            checkImages(clip, golden);
            checkTexts(clip, golden);
        }
    }

    @Test
    void visionOnlyDirectoryLoads() throws Exception {
        Path golden = Golden.dir();
        Path dir = singleTower(golden, "vision", "clip_vision_model",
                n -> n.startsWith("vision_model.") || n.equals("visual_projection.weight"));
        try (ClipModel clip = ClipModel.load(dir, new CpuBackend())) {
            assertTrue(clip.vision().isPresent());
            assertFalse(clip.text().isPresent());
            checkImages(clip, golden);
        }
    }

    @Test
    void textOnlyDirectoryLoads() throws Exception {
        Path golden = Golden.dir();
        Path dir = singleTower(golden, "text", "clip_text_model",
                n -> n.startsWith("text_model.") || n.equals("text_projection.weight"));
        try (ClipModel clip = ClipModel.load(dir, new CpuBackend())) {
            assertTrue(clip.text().isPresent());
            assertFalse(clip.vision().isPresent());
            checkTexts(clip, golden);
        }
    }

    @Test
    void repeatedLoadAndEncodeLeaksNoNativeMemory() throws Exception {
        Path golden = Golden.dir();
        try (Tensor pixels = Npy.readFloat32(golden.resolve("fixtures/tiny/pixel_values.npy"))) {
            long before = NativeMemory.liveBytes();
            for (int i = 0; i < 20; i++) {
                try (ClipModel clip = ClipModel.load(golden.resolve("models/tiny"), new CpuBackend());
                     Tensor e = clip.encodeImages(pixels, true)) {
                    assertTrue(e.numel() > 0);
                }
            }
            assertTrue(NativeMemory.liveBytes() == before, "native bytes leaked: " + (NativeMemory.liveBytes() - before));
        }
    }

    @Test
    void batchesOfAnySizeAreChunkedWithoutChangingResults() throws Exception {
        Path golden = Golden.dir();
        Path fx = golden.resolve("fixtures/tiny");
        try (ClipModel clip = ClipModel.load(golden.resolve("models/tiny"), new CpuBackend());
             Tensor pixels = Npy.readFloat32(fx.resolve("pixel_values.npy"));
             Tensor ids = Npy.readInt32(fx.resolve("input_ids.npy"))) {
            float[] img, txt;
            try (Tensor i = clip.batchSize(64).encodeImages(pixels, true); Tensor t = clip.encodeTexts(ids, true)) {
                img = i.toFloatArray();
                txt = t.toFloatArray();
            }
            for (int chunk : new int[] {1, 2, 3}) {  // 5 rows: uneven last chunks included
                try (Tensor i = clip.batchSize(chunk).encodeImages(pixels, true); Tensor t = clip.encodeTexts(ids, true)) {
                    assertTrue(Golden.maxAbsDiff(img, i.toFloatArray()) < 1e-6, "images, chunks of " + chunk);
                    assertTrue(Golden.maxAbsDiff(txt, t.toFloatArray()) < 1e-6, "texts, chunks of " + chunk);
                }
            }
        }
    }

    /** eos_token_id == 2 (old OpenAI configs) selects HF's legacy argmax(ids) pooling; same positions here. */
    @Test
    void legacyEosTokenIdPoolsAtArgmax() throws Exception {
        Path golden = Golden.dir();
        Path dir = withTextConfig(golden, "eos_token_id", 2);
        try (ClipModel clip = ClipModel.load(dir, new CpuBackend())) {
            checkTexts(clip, golden);
        }
    }

    @Test
    void textWithoutEosTokenIsRejectedNamingTheRow() throws Exception {
        Path golden = Golden.dir();
        try (ClipModel clip = ClipModel.load(golden.resolve("models/tiny"), new CpuBackend());
             Tensor ids = Npy.readInt32(golden.resolve("fixtures/tiny/input_ids.npy"))) {
            int[] v = ids.toIntArray();
            int len = (int) ids.dim(1);
            for (int j = 0; j < len; j++) if (v[len + j] == 49407) v[len + j] = 0;  // row 1 loses its EOS
            try (Tensor bad = Tensor.ofInts(v, ids.dim(0), len)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> clip.encodeTexts(bad, false));
                assertTrue(e.getMessage().contains("row 1") && e.getMessage().contains("49407"), e.getMessage());
            }
        }
    }

    /** A copy of the tiny model directory with one text_config field changed. */
    private Path withTextConfig(Path golden, String field, int value) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("edited"));
        ObjectNode cfg = (ObjectNode) json.readTree(golden.resolve("models/tiny/config.json").toFile());
        ((ObjectNode) cfg.get("text_config")).put(field, value);
        json.writeValue(dir.resolve("config.json").toFile(), cfg);
        Files.copy(golden.resolve("models/tiny/model.safetensors"), dir.resolve("model.safetensors"));
        return dir;
    }

    /** A single-tower HF directory: the tower's config fields at top level plus model_type and projection_dim. */
    private Path singleTower(Path golden, String tower, String modelType, Predicate<String> keep) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(tower));
        ObjectNode full = (ObjectNode) json.readTree(golden.resolve("models/tiny/config.json").toFile());
        ObjectNode cfg = ((ObjectNode) full.get(tower + "_config")).deepCopy();
        cfg.put("model_type", modelType);
        if (!cfg.has("projection_dim")) cfg.put("projection_dim", full.get("projection_dim").asInt());
        json.writeValue(dir.resolve("config.json").toFile(), cfg);
        try (WeightStore store = WeightStore.open(golden.resolve("models/tiny")); TensorScope scope = new TensorScope()) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (String n : store.names()) if (keep.test(n)) w.add(n, scope.track(store.load(n)));
            w.write(dir.resolve("model.safetensors"));
        }
        return dir;
    }

    private static void checkImages(ClipModel clip, Path golden) throws Exception {
        Path fx = golden.resolve("fixtures/tiny");
        try (Tensor pixels = Npy.readFloat32(fx.resolve("pixel_values.npy")); Tensor e = clip.encodeImages(pixels, false);
             Tensor want = Npy.readFloat32(fx.resolve("image_embeds.npy"))) {
            double err = Golden.maxAbsDiff(want.toFloatArray(), e.toFloatArray());
            assertTrue(err < 1e-4, "image_embeds max abs error " + err);
        }
    }

    private static void checkTexts(ClipModel clip, Path golden) throws Exception {
        Path fx = golden.resolve("fixtures/tiny");
        try (Tensor ids = Npy.readInt32(fx.resolve("input_ids.npy")); Tensor e = clip.encodeTexts(ids, false);
             Tensor want = Npy.readFloat32(fx.resolve("text_embeds.npy"))) {
            double err = Golden.maxAbsDiff(want.toFloatArray(), e.toFloatArray());
            assertTrue(err < 1e-4, "text_embeds max abs error " + err);
        }
    }
}
