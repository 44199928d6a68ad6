package io.vlm4j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.model.clip.ClipConfigLoader;
import io.vlm4j.tensor.NativeMemory;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged or hostile files are rejected with a {@link ModelFormatException} that names the file and the problem,
 * never with a wrong tensor, a crash or an unrelated exception.
 */
class MalformedInputTest {
    private static final String W = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    @TempDir
    Path tmp;

    private static void assertRejected(Path file, Executable action, String... fragments) {
        ModelFormatException e = assertThrows(ModelFormatException.class, action);
        String m = e.getMessage();
        assertTrue(m.contains(file.getFileName().toString()), "message does not name the file: " + m);
        for (String f : fragments) assertTrue(m.contains(f), "message lacks '" + f + "': " + m);
    }

    private void assertBadSafetensors(String header, byte[] data, String... fragments) throws Exception {
        Path f = tmp.resolve("model.safetensors");
        SafetensorsBuilder.writeRaw(f, header, data);
        assertRejected(f, () -> SafetensorsFile.open(f).close(), fragments);
    }

    private void assertBadHeaderLength(long length, byte[] rest, String... fragments) throws Exception {
        Path f = tmp.resolve("model.safetensors");
        SafetensorsBuilder.writeRaw(f, length, rest);
        assertRejected(f, () -> SafetensorsFile.open(f).close(), fragments);
    }

    // ---- safetensors: framing ----

    @Test
    void emptyFile() throws Exception {
        Path f = Files.write(tmp.resolve("model.safetensors"), new byte[0]);
        assertRejected(f, () -> SafetensorsFile.open(f).close(), "0 bytes", "too short");
    }

    @Test
    void fileShorterThanTheLengthField() throws Exception {
        Path f = Files.write(tmp.resolve("model.safetensors"), new byte[] {1, 0, 0, 0, 0});
        assertRejected(f, () -> SafetensorsFile.open(f).close(), "5 bytes", "too short");
    }

    @Test
    void headerLengthBeyondTheFile() throws Exception {
        assertBadHeaderLength(1000, W.getBytes(StandardCharsets.UTF_8), "header length 1000", "larger than");
    }

    @Test
    void headerLengthTwoToThe63rdAndAllOnes() throws Exception {
        assertBadHeaderLength(Long.MIN_VALUE, new byte[16], "header length 9223372036854775808", "larger than");
        assertBadHeaderLength(-1L, new byte[16], "header length 18446744073709551615", "larger than");
    }

    @Test
    void headerLengthZero() throws Exception {
        assertBadHeaderLength(0, new byte[8], "header length is 0");
    }

    @Test
    void headerOverTheCapIsRefusedBeforeReading() throws Exception {
        Path f = tmp.resolve("model.safetensors");
        long n = SafetensorsFile.MAX_HEADER_BYTES + 1;
        SafetensorsBuilder.writeRaw(f, n, new byte[0]);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(8 + n);  // sparse: costs no disk
        }
        assertRejected(f, () -> SafetensorsFile.open(f).close(), "header length " + n, "exceeds the limit");
    }

    // ---- safetensors: header JSON ----

    @Test
    void headerNotJson() throws Exception {
        assertBadSafetensors("hello, world", new byte[0], "header is not valid JSON");
    }

    @Test
    void headerIsAJsonArray() throws Exception {
        assertBadSafetensors("[1, 2, 3]", new byte[0], "header must be a JSON object, found a JSON array");
    }

    @Test
    void garbageAfterTheJson() throws Exception {
        assertBadSafetensors(W + " {}", new byte[8], "header is not valid JSON", "Trailing token");
        assertBadSafetensors(W + "}", new byte[8], "header is not valid JSON", "Unexpected close marker '}'");
    }

    @Test
    void duplicateTensorName() throws Exception {
        String dup = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        assertBadSafetensors(dup, new byte[8], "not valid JSON", "Duplicate field 'w'");
    }

    @Test
    void nanLiteral() throws Exception {
        assertBadSafetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[NaN],\"data_offsets\":[0,4]}}", new byte[4], "not valid JSON");
    }

    @Test
    void invalidUtf8() throws Exception {
        Path f = tmp.resolve("model.safetensors");
        byte[] header = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
        SafetensorsBuilder.writeRaw(f, header.length, header);
        assertRejected(f, () -> SafetensorsFile.open(f).close(), "not valid UTF-8");
    }

    @Test
    void metadataValueNotAString() throws Exception {
        assertBadSafetensors("{\"__metadata__\":{\"format\":1}}", new byte[0], "__metadata__ value 'format' must be a string");
    }

    // ---- safetensors: tensor entries ----

    @Test
    void entryNotAnObject() throws Exception {
        assertBadSafetensors("{\"w\":[1,2]}", new byte[0], "tensor 'w' must be an object");
    }

    @Test
    void missingDtype() throws Exception {
        assertBadSafetensors("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8], "tensor 'w' has no 'dtype'");
    }

    @Test
    void unknownDtype() throws Exception {
        assertBadSafetensors(W.replace("F32", "F33"), new byte[8], "tensor 'w' has unknown dtype 'F33'");
    }

    @Test
    void shapeDoesNotMatchTheBytes() throws Exception {
        assertBadSafetensors(W.replace("[2]", "[3]"), new byte[8], "tensor 'w' shape [3] of F32 needs 12 bytes but data_offsets [0, 8) hold 8");
    }

    @Test
    void negativeAndFractionalShapeDims() throws Exception {
        assertBadSafetensors(W.replace("[2]", "[-2]"), new byte[8], "tensor 'w' shape must hold non-negative integers");
        assertBadSafetensors(W.replace("[2]", "[2.0]"), new byte[8], "tensor 'w' shape must hold non-negative integers");
    }

    @Test
    void shapeWhoseSizeOverflows() throws Exception {
        assertBadSafetensors(W.replace("[2]", "[4611686018427387904, 4]"), new byte[8], "has too many elements");
        assertBadSafetensors(W.replace("[2]", "[18446744073709551616]"), new byte[8], "non-negative integers");
    }

    @Test
    void offsetsOutsideTheData() throws Exception {
        assertBadSafetensors(W.replace("[0,8]", "[8,16]"), new byte[8], "data_offsets [8, 16) extend past the end of the data region (8 bytes");
    }

    @Test
    void beginAfterEnd() throws Exception {
        assertBadSafetensors(W.replace("[0,8]", "[8,0]"), new byte[8], "data_offsets [8, 0) begin after end");
    }

    @Test
    void offsetsNotAPair() throws Exception {
        assertBadSafetensors(W.replace("[0,8]", "[0,4,8]"), new byte[8], "data_offsets must have 2 entries");
    }

    @Test
    void overlappingTensors() throws Exception {
        String h = "{\"x\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[10,30]},"
                + "\"y\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[20,40]}}";
        assertBadSafetensors(h, new byte[40], "tensor 'y' data_offsets [20, 40) overlap tensor 'x' [10, 30)");
    }

    // ---- WeightStore ----

    private Path smallModel() throws Exception {
        return new SafetensorsBuilder().f32("w", new long[] {3, 4}, new float[12])
                .add("position_ids", "I64", new long[] {1, 2}, new byte[16])
                .write(tmp.resolve("model.safetensors"));
    }

    @Test
    void missingTensorOnLoad() throws Exception {
        Path f = smallModel();
        try (WeightStore store = WeightStore.open(tmp)) {
            assertRejected(f, () -> store.load("vision_model.post_layernorm.weight", 768).close(),
                    "missing tensor 'vision_model.post_layernorm.weight'");
            assertRejected(f, () -> store.info("nope"), "missing tensor 'nope'");
        }
    }

    @Test
    void wrongShapeOnLoad() throws Exception {
        Path f = smallModel();
        try (WeightStore store = WeightStore.open(f)) {
            assertRejected(f, () -> store.load("w", 4, 3).close(), "tensor 'w' has shape [3, 4] but the config expects [4, 3]");
            assertRejected(f, () -> store.load("w", 12).close(), "tensor 'w' has shape [3, 4] but the config expects [12]");
        }
    }

    @Test
    void integerTensorOnLoad() throws Exception {
        Path f = smallModel();
        try (WeightStore store = WeightStore.open(f)) {
            assertRejected(f, () -> store.load("position_ids").close(), "tensor 'position_ids' has dtype I64", "floating-point");
        }
    }

    private Path index(String weightMap) throws Exception {
        new SafetensorsBuilder().f32("a", new long[] {1}, 1).write(tmp.resolve("shard-1.safetensors"));
        return Files.writeString(tmp.resolve("model.safetensors.index.json"), "{\"weight_map\": " + weightMap + "}");
    }

    @Test
    void indexPointsToAMissingShard() throws Exception {
        Path idx = index("{\"a\": \"shard-1.safetensors\", \"b\": \"shard-2.safetensors\"}");
        assertRejected(idx, () -> WeightStore.open(tmp).close(), "shard 'shard-2.safetensors', which does not exist");
    }

    @Test
    void indexNamesATensorAbsentFromItsShard() throws Exception {
        Path idx = index("{\"a\": \"shard-1.safetensors\", \"b\": \"shard-1.safetensors\"}");
        assertRejected(idx, () -> WeightStore.open(tmp).close(), "tensor 'b' in shard-1.safetensors, which has no such tensor");
    }

    @Test
    void shardPathEscapingTheDirectory() throws Exception {
        Path model = Files.createDirectory(tmp.resolve("model"));
        new SafetensorsBuilder().f32("a", new long[] {1}, 1).write(tmp.resolve("x.safetensors"));  // exists, but outside
        Path idx = Files.writeString(model.resolve("model.safetensors.index.json"), "{\"weight_map\": {\"a\": \"../x.safetensors\"}}");
        assertRejected(idx, () -> WeightStore.open(model).close(), "'../x.safetensors' outside the model directory");
        Files.writeString(idx, "{\"weight_map\": {\"a\": \"" + tmp.resolve("x.safetensors").toAbsolutePath() + "\"}}");
        assertRejected(idx, () -> WeightStore.open(model).close(), "outside the model directory");
    }

    @Test
    void indexWithoutWeightMap() throws Exception {
        Path idx = Files.writeString(tmp.resolve("model.safetensors.index.json"), "{\"metadata\": {}}");
        assertRejected(idx, () -> WeightStore.open(tmp).close(), "'weight_map' must be an object");
    }

    @Test
    void directoryWithoutWeightsOrWithSeveral() throws Exception {
        Files.writeString(tmp.resolve("config.json"), "{}");
        assertRejected(tmp, () -> WeightStore.open(tmp).close(), "no model.safetensors, *.safetensors.index.json or *.safetensors");
        new SafetensorsBuilder().f32("a", new long[] {1}, 1).write(tmp.resolve("a.safetensors"));
        new SafetensorsBuilder().f32("a", new long[] {1}, 1).write(tmp.resolve("b.safetensors"));
        assertRejected(tmp, () -> WeightStore.open(tmp).close(), "several .safetensors files", "a.safetensors, b.safetensors");
    }

    @Test
    void pytorchPickleIsNamedAsSuch() throws Exception {
        Path f = Files.write(tmp.resolve("pytorch_model.bin"), new byte[64]);
        assertRejected(f, () -> WeightStore.open(f).close(), "PyTorch pickle weights are not supported");
    }

    // ---- npy ----

    private void assertBadNpy(int major, String header, byte[] data, boolean asInt, String... fragments) throws Exception {
        Path f = NpyTest.writeNpy(tmp.resolve("x.npy"), major, header, data);
        assertRejected(f, () -> (asInt ? Npy.readInt32(f) : Npy.readFloat32(f)).close(), fragments);
    }

    private static String dict(String descr, String fortran, String shape) {
        return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
    }

    @Test
    void npyBadMagic() throws Exception {
        Path f = Files.write(tmp.resolve("x.npy"), "PK\3\4 this is a zip, not npy".getBytes(StandardCharsets.ISO_8859_1));
        assertRejected(f, () -> Npy.readFloat32(f).close(), "not a .npy file (bad magic bytes)");
        Path g = Files.write(tmp.resolve("y.npy"), new byte[] {(byte) 0x93, 'N', 'U'});
        assertRejected(g, () -> Npy.readFloat32(g).close(), "too short");
    }

    @Test
    void npyUnsupportedVersionAndHeaderBeyondFile() throws Exception {
        assertBadNpy(4, dict("<f4", "False", "(2,)"), new byte[8], false, "unsupported .npy format version 4.0");
        Path f = tmp.resolve("x.npy");
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) 500).put("{}\n".getBytes());
        Files.write(f, b.array());
        assertRejected(f, () -> Npy.readFloat32(f).close(), "header length 500 is larger than the rest of the file");
    }

    @Test
    void npyTruncatedOrTrailingData() throws Exception {
        assertBadNpy(1, dict("<f4", "False", "(4, 3)"), new byte[40], false, "truncated", "needs 48 data bytes but the file has 40");
        assertBadNpy(1, dict("<f4", "False", "(2,)"), new byte[12], false, "trailing bytes");
    }

    @Test
    void npyFortranOrder() throws Exception {
        assertBadNpy(1, dict("<f4", "True", "(2, 2)"), new byte[16], false, "Fortran-order");
    }

    @Test
    void npyBigEndian() throws Exception {
        assertBadNpy(1, dict(">f4", "False", "(2,)"), new byte[8], false, "big-endian .npy data ('>f4') is not supported");
        assertBadNpy(1, dict(">i8", "False", "(2,)"), new byte[16], true, "big-endian");
    }

    @Test
    void npyMalformedHeaderDict() throws Exception {
        assertBadNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", new byte[8], false, "malformed .npy header");
        assertBadNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'descr': '<f4'}", new byte[8], false,
                "duplicate key 'descr'");
        assertBadNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': __import__('os')}", new byte[8], false,
                "malformed .npy header", "unexpected name '__import__'");
        assertBadNpy(1, "{'descr': '<f4', 'fortran_order': False}", new byte[8], false, "has no 'shape' key");
        assertBadNpy(1, dict("<f4", "False", "(2)"), new byte[8], false, "shape must be a tuple");
        assertBadNpy(1, dict("<f4", "False", "(-2,)"), new byte[8], false, "non-negative integers");
        assertBadNpy(1, dict("<f4", "0", "(2,)"), new byte[8], false, "fortran_order must be True or False");
    }

    @Test
    void npyUnsupportedDescr() throws Exception {
        assertBadNpy(1, dict("<c8", "False", "(1,)"), new byte[8], false, "unsupported .npy dtype descr '<c8'");
        assertBadNpy(1, dict("<U3", "False", "(1,)"), new byte[12], false, "unsupported .npy dtype descr '<U3'");
        assertBadNpy(1, dict("|f4", "False", "(1,)"), new byte[4], false, "'|' (no byte order) only fits 1-byte types");
        assertBadNpy(1, dict("<i4", "False", "(1,)"), new byte[4], false, "expected a float32/float64/float16 array");
        assertBadNpy(1, dict("<f4", "False", "(1,)"), new byte[4], true, "expected an integer array");
    }

    @Test
    void npyInt64OutOfInt32Range() throws Exception {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(7).putLong(1L << 31);
        assertBadNpy(1, dict("<i8", "False", "(2,)"), b.array(), true, "int64 value 2147483648 at element 1 does not fit in int32");
    }

    // ---- config.json ----

    private void assertBadConfig(String json, String... fragments) throws Exception {
        Path f = Files.writeString(tmp.resolve("config.json"), json);
        assertRejected(f, () -> ClipConfigLoader.load(tmp), fragments);
    }

    @Test
    void configNotJson() throws Exception {
        assertBadConfig("{\"model_type\": \"clip\",", "config is not valid JSON");
        assertBadConfig("[]", "config must be a JSON object");
    }

    @Test
    void configUnknownModelType() throws Exception {
        assertBadConfig("{\"model_type\": \"siglip\"}", "unsupported model_type 'siglip'", "clip_vision_model");
        assertBadConfig("{\"architectures\": [\"CLIPModel\"]}", "no model_type and no text_config/vision_config");
        assertBadConfig("{\"model_type\": \"clip\", \"text_config\": {\"model_type\": \"clip_vision_model\"}}",
                "text_config.model_type is 'clip_vision_model', expected 'clip_text_model'");
    }

    @Test
    void configHiddenSizeNotDivisibleByHeads() throws Exception {
        assertBadConfig("{\"model_type\": \"clip\", \"vision_config\": {\"hidden_size\": 100, \"num_attention_heads\": 12}}",
                "vision: hidden_size 100 is not divisible by num_attention_heads 12");
    }

    @Test
    void configWrongJsonTypes() throws Exception {
        assertBadConfig("{\"model_type\": \"clip\", \"text_config\": {\"hidden_size\": \"512\"}}",
                "text_config.hidden_size must be an integer, got \"512\"");
        assertBadConfig("{\"model_type\": \"clip\", \"vision_config\": {\"patch_size\": 16.5}}",
                "vision_config.patch_size must be an integer, got 16.5");
        assertBadConfig("{\"model_type\": \"clip\", \"projection_dim\": 1e3}", "projection_dim must be an integer");
        assertBadConfig("{\"model_type\": \"clip\", \"vision_config\": {\"layer_norm_eps\": \"1e-5\"}}",
                "vision_config.layer_norm_eps must be a finite number");
        assertBadConfig("{\"model_type\": \"clip\", \"text_config\": [1]}", "text_config must be an object");
        assertBadConfig("{\"model_type\": 3}", "model_type must be a string");
    }

    @Test
    void configNegativeLayersAndBadActivation() throws Exception {
        assertBadConfig("{\"model_type\": \"clip_text_model\", \"num_hidden_layers\": -1}",
                "text: num_hidden_layers must be positive, got -1");
        assertBadConfig("{\"model_type\": \"clip_vision_model\", \"hidden_act\": \"relu\"}",
                "hidden_act 'relu' is not supported");
        assertBadConfig("{\"model_type\": \"clip_text_model\", \"eos_token_id\": 50000}", "eos_token_id 50000 is outside the vocabulary");
    }

    @Test
    void rejectedReadFreesItsTensor() throws Exception {
        long before = NativeMemory.liveBytes();
        assertBadNpy(1, dict("<i8", "False", "(2,)"), ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(1L << 40).putLong(0).array(), true, "does not fit in int32");
        assertEquals(before, NativeMemory.liveBytes());
    }
}
