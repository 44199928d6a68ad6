package io.vlm4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.io.SafetensorsFile.TensorInfo;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.testing.Golden;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Valid safetensors files and shard indexes read back exactly. */
class SafetensorsFileTest {
    @TempDir
    Path tmp;

    @Test
    void headerEntriesMetadataAndBytesReadBack() throws Exception {
        Path file = new SafetensorsBuilder()
                .metadata("format", "pt")
                .f32("b.weight", new long[] {2, 3}, 1, 2, 3, 4, 5, 6)
                .f32("a.bias", new long[] {2}, -0.5f, 7.25f)
                .add("position_ids", "I64", new long[] {1, 2}, new byte[16])
                .write(tmp.resolve("model.safetensors"));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("b.weight", "a.bias", "position_ids"), List.copyOf(f.tensors().keySet()), "file order");
            assertEquals(Map.of("format", "pt"), f.metadata());
            TensorInfo info = f.tensors().get("a.bias");
            assertEquals(new TensorInfo("a.bias", "F32", new long[] {2}, 24, 32), info);
            assertEquals(2, info.numel());
            ByteBuffer bytes = f.bytes("a.bias");
            assertTrue(bytes.isReadOnly());
            assertEquals(ByteOrder.LITTLE_ENDIAN, bytes.order());
            assertEquals(-0.5f, bytes.getFloat(0));
            assertEquals(7.25f, bytes.getFloat(4));
            assertEquals(file, f.path());
        }
    }

    @Test
    void f32LoadsAsIs() throws Exception {
        Path file = new SafetensorsBuilder().f32("w", new long[] {2, 2}, 1.5f, -0f, Float.MIN_VALUE, 3e38f)
                .write(tmp.resolve("m.safetensors"));
        try (WeightStore store = WeightStore.open(file); Tensor t = store.load("w", 2, 2)) {
            assertEquals(DType.F32, t.dtype());
            assertArrayEquals(new long[] {2, 2}, t.shape());
            assertArrayEquals(new float[] {1.5f, -0f, Float.MIN_VALUE, 3e38f}, t.toFloatArray());
        }
    }

    @Test
    void f16AndBf16ConvertExactly() throws Exception {
        // F16 bit patterns: 1, -2, 1.5, 65504 (max), 2^-24 (smallest subnormal), 2^-14 (smallest normal), -0, +inf
        int[] f16 = {0x3C00, 0xC000, 0x3E00, 0x7BFF, 0x0001, 0x0400, 0x8000, 0x7C00};
        float[] f16Values = {1f, -2f, 1.5f, 65504f, 0x1p-24f, 0x1p-14f, -0f, Float.POSITIVE_INFINITY};
        // BF16 is the top half of an F32: choose values that have a zero low half.
        float[] bf16Values = {1f, -2.5f, 3.140625f, 0x1p-130f, 1.0e38f, -0f};
        int[] bf16 = new int[bf16Values.length];
        for (int i = 0; i < bf16.length; i++) {
            bf16Values[i] = Float.intBitsToFloat(Float.floatToRawIntBits(bf16Values[i]) & 0xFFFF0000);
            bf16[i] = Float.floatToRawIntBits(bf16Values[i]) >>> 16;
        }
        Path file = new SafetensorsBuilder()
                .bits16("h", "F16", new long[] {2, 4}, f16)
                .bits16("b", "BF16", new long[] {6}, bf16)
                .write(tmp.resolve("model.safetensors"));
        try (WeightStore store = WeightStore.open(tmp); Tensor h = store.load("h", 2, 4); Tensor b = store.load("b")) {
            assertArrayEquals(f16Values, h.toFloatArray());
            assertArrayEquals(bf16Values, b.toFloatArray());
            assertEquals(DType.F32, b.dtype());
        }
    }

    @Test
    void f64RoundsToNearestFloat() throws Exception {
        double third = 1.0 / 3.0;
        Path file = new SafetensorsBuilder().f64("d", new long[] {3}, third, -1e300, 0.1).write(tmp.resolve("d.safetensors"));
        try (WeightStore store = WeightStore.open(file); Tensor t = store.load("d", 3)) {
            assertArrayEquals(new float[] {(float) third, Float.NEGATIVE_INFINITY, 0.1f}, t.toFloatArray());
        }
    }

    @Test
    void scalarAndEmptyTensors() throws Exception {
        Path file = new SafetensorsBuilder()
                .f32("logit_scale", new long[] {}, 4.6052f)
                .add("empty", "F32", new long[] {0, 4}, new byte[0])
                .add("empty2", "F16", new long[] {0}, new byte[0])
                .write(tmp.resolve("s.safetensors"));
        try (WeightStore store = WeightStore.open(file); Tensor s = store.load("logit_scale"); Tensor e = store.load("empty", 0, 4)) {
            assertEquals(0, s.rank());
            assertArrayEquals(new float[] {4.6052f}, s.toFloatArray());
            assertEquals(0, e.numel());
            assertEquals(0, store.info("empty2").byteSize());
        }
    }

    @Test
    void twoShardsThroughTheIndex() throws Exception {
        new SafetensorsBuilder().f32("text.w", new long[] {2}, 1, 2).f32("unlisted", new long[] {1}, 9)
                .write(tmp.resolve("model-00001-of-00002.safetensors"));
        new SafetensorsBuilder().f32("vision.w", new long[] {1, 3}, 3, 4, 5).bits16("vision.h", "F16", new long[] {1}, 0x3800)
                .write(tmp.resolve("model-00002-of-00002.safetensors"));
        Files.writeString(tmp.resolve("model.safetensors.index.json"), """
                {"metadata": {"total_size": 26},
                 "weight_map": {"text.w": "model-00001-of-00002.safetensors",
                                "vision.w": "model-00002-of-00002.safetensors",
                                "vision.h": "model-00002-of-00002.safetensors"}}""");
        try (WeightStore store = WeightStore.open(tmp)) {
            assertEquals(List.of("text.w", "vision.w", "vision.h"), List.copyOf(store.names()));
            assertTrue(store.contains("vision.w"));
            assertFalse(store.contains("unlisted"), "only the index's names are part of the model");
            assertEquals(tmp.resolve("model-00002-of-00002.safetensors").toAbsolutePath(), store.pathOf("vision.h"));
            try (Tensor a = store.load("text.w", 2); Tensor b = store.load("vision.w", 1, 3); Tensor c = store.load("vision.h")) {
                assertArrayEquals(new float[] {1, 2}, a.toFloatArray());
                assertArrayEquals(new float[] {3, 4, 5}, b.toFloatArray());
                assertArrayEquals(new float[] {0.5f}, c.toFloatArray());
            }
            assertTrue(store.toString().endsWith("model.safetensors.index.json"));
        }
    }

    @Test
    void directoryPrefersModelSafetensorsThenTheOnlyFile() throws Exception {
        new SafetensorsBuilder().f32("x", new long[] {1}, 1).write(tmp.resolve("model.safetensors"));
        new SafetensorsBuilder().f32("x", new long[] {1}, 2).write(tmp.resolve("model.f16.safetensors"));
        try (WeightStore store = WeightStore.open(tmp); Tensor x = store.load("x")) {
            assertArrayEquals(new float[] {1}, x.toFloatArray());
        }
        Path other = Files.createDirectory(tmp.resolve("other"));
        new SafetensorsBuilder().f32("y", new long[] {1}, 3).write(other.resolve("weights.safetensors"));
        try (WeightStore store = WeightStore.open(other); Tensor y = store.load("y")) {
            assertArrayEquals(new float[] {3}, y.toFloatArray());
        }
    }

    @Test
    void unpaddedHeaderAndUnknownEntryFieldsAreAccepted() throws Exception {
        Path file = tmp.resolve("u.safetensors");
        byte[] header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}".getBytes();
        SafetensorsBuilder.writeRaw(file, header.length, SafetensorsBuilder.concat(header, new byte[] {0, 0, (byte) 0x80, 0x3F}));
        try (WeightStore store = WeightStore.open(file); Tensor w = store.load("w", 1)) {
            assertArrayEquals(new float[] {1f}, w.toFloatArray());
        }
    }

    @Test
    void goldenTinyModelInAllThreeDtypes() throws Exception {
        Path dir = Golden.dir().resolve("models/tiny");
        String patch = "vision_model.embeddings.patch_embedding.weight";
        try (WeightStore f32 = WeightStore.open(dir);
             WeightStore f16 = WeightStore.open(dir.resolve("model.f16.safetensors"));
             WeightStore bf16 = WeightStore.open(dir.resolve("model.bf16.safetensors"))) {
            assertEquals(dir.resolve("model.safetensors").toString(), f32.toString());
            assertEquals("F32", f32.info(patch).dtype());
            assertEquals("F16", f16.info(patch).dtype());
            assertEquals("BF16", bf16.info(patch).dtype());
            try (Tensor scale = f32.load("logit_scale")) {
                assertEquals(Math.log(1 / 0.07), scale.toFloatArray()[0], 1e-6);
            }
            try (Tensor a = f32.load(patch, 64, 3, 8, 8); Tensor b = f16.load(patch, 64, 3, 8, 8);
                 Tensor c = bf16.load(patch, 64, 3, 8, 8)) {
                float[] x = a.toFloatArray(), h = b.toFloatArray(), g = c.toFloatArray();
                for (int i = 0; i < x.length; i++) {
                    assertEquals(x[i], h[i], Math.abs(x[i]) * 0x1p-11 + 0x1p-24, "F16 element " + i);
                    assertEquals(x[i], g[i], Math.abs(x[i]) * 0x1p-8, "BF16 element " + i);
                }
            }
            assertTrue(f32.names().contains("text_model.embeddings.token_embedding.weight"));
            assertThrows(ModelFormatException.class, () -> f32.load("text_model.embeddings.token_embedding.weight", 49408, 64));
        }
    }
}
