package io.vlm4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.io.SafetensorsFile.TensorInfo;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The weights of one model: a single {@code .safetensors} file or the shards named by a
 * {@code *.safetensors.index.json} (spec 08 §1.1). {@link #load} returns F32 host tensors whatever the stored
 * floating-point dtype, after checking the shape the config predicts, so a config/checkpoint mismatch is reported
 * by tensor name instead of surfacing as a wrong result.
 */
public final class WeightStore implements AutoCloseable {
    private static final String SINGLE_FILE = "model.safetensors";
    private static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path source;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> fileByName;

    private WeightStore(Path source, List<SafetensorsFile> files, Map<String, SafetensorsFile> fileByName) {
        this.source = source;
        this.files = files;
        this.fileByName = Collections.unmodifiableMap(fileByName);
    }

    /**
     * Opens a model directory (its {@code model.safetensors}, else its one {@code *.safetensors.index.json}, else
     * its one {@code *.safetensors}), an index file, or a single safetensors file.
     */
    public static WeightStore open(Path path) throws IOException {
        if (!Files.exists(path)) throw new NoSuchFileException(path.toString(), null, "model path does not exist");
        if (Files.isDirectory(path)) {
            Path single = path.resolve(SINGLE_FILE);
            if (Files.isRegularFile(single)) return openSingle(single);
            List<Path> indexes = filesEndingWith(path, ".safetensors.index.json");
            if (indexes.contains(path.resolve(INDEX_FILE))) return openIndex(path.resolve(INDEX_FILE));
            if (indexes.size() == 1) return openIndex(indexes.get(0));
            if (indexes.size() > 1) throw new ModelFormatException(path, "several shard indexes, cannot choose: " + names(indexes));
            List<Path> weights = filesEndingWith(path, ".safetensors");
            if (weights.size() == 1) return openSingle(weights.get(0));
            if (weights.isEmpty()) {
                throw new ModelFormatException(path, "no " + SINGLE_FILE + ", *.safetensors.index.json or *.safetensors file"
                        + " (PyTorch .bin/.pt weights must be converted to safetensors first)");
            }
            throw new ModelFormatException(path, "several .safetensors files and no " + SINGLE_FILE
                    + " or index to choose between them: " + names(weights));
        }
        String fileName = path.getFileName().toString();
        if (fileName.endsWith(".index.json")) return openIndex(path);
        if (fileName.matches(".*\\.(bin|pt|pth|ckpt)")) {
            throw new ModelFormatException(path, "PyTorch pickle weights are not supported; convert them to .safetensors"
                    + " once, offline (spec 08 §1.2)");
        }
        return openSingle(path);
    }

    private static WeightStore openSingle(Path file) throws IOException {
        SafetensorsFile f = SafetensorsFile.open(file);
        Map<String, SafetensorsFile> byName = new LinkedHashMap<>();
        for (String name : f.tensors().keySet()) byName.put(name, f);
        return new WeightStore(file, List.of(f), byName);
    }

    private static WeightStore openIndex(Path index) throws IOException {
        JsonNode root = StrictJson.parseObject(index, "index", Files.readAllBytes(index));
        JsonNode map = root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new ModelFormatException(index, "'weight_map' must be an object of tensor name -> shard file, found "
                    + (map == null ? "nothing" : StrictJson.show(map)));
        }
        if (map.isEmpty()) throw new ModelFormatException(index, "weight_map is empty");
        Path dir = index.toAbsolutePath().getParent().normalize();
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        Map<String, SafetensorsFile> byName = new LinkedHashMap<>();
        try {
            for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String name = e.getKey();
                if (!e.getValue().isTextual()) {
                    throw new ModelFormatException(index, "weight_map['" + name + "'] must be a file name, found "
                            + StrictJson.show(e.getValue()));
                }
                String shardName = e.getValue().textValue();
                SafetensorsFile shard = shards.get(shardName);
                if (shard == null) {
                    shard = SafetensorsFile.open(resolveShard(index, dir, name, shardName));
                    shards.put(shardName, shard);
                }
                if (!shard.tensors().containsKey(name)) {
                    throw new ModelFormatException(index, "weight_map puts tensor '" + name + "' in " + shardName
                            + ", which has no such tensor");
                }
                byName.put(name, shard);
            }
        } catch (IOException | RuntimeException e) {
            for (SafetensorsFile f : shards.values()) {
                try {
                    f.close();
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
        return new WeightStore(index, new ArrayList<>(shards.values()), byName);
    }

    /** A shard must be a file inside the index's directory: an index must not make us open arbitrary files. */
    private static Path resolveShard(Path index, Path dir, String tensor, String shardName) throws ModelFormatException {
        Path shard;
        try {
            shard = dir.resolve(shardName).normalize();
        } catch (InvalidPathException e) {
            throw new ModelFormatException(index, "weight_map['" + tensor + "'] names an invalid file '" + shardName + "'");
        }
        if (shardName.isEmpty() || !shard.startsWith(dir) || shard.equals(dir)) {
            throw new ModelFormatException(index, "weight_map['" + tensor + "'] names shard '" + shardName
                    + "' outside the model directory");
        }
        if (!Files.isRegularFile(shard)) {
            throw new ModelFormatException(index, "weight_map['" + tensor + "'] names shard '" + shardName
                    + "', which does not exist");
        }
        return shard;
    }

    private static List<Path> filesEndingWith(Path dir, String suffix) throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, p -> p.getFileName().toString().endsWith(suffix)
                && Files.isRegularFile(p))) {
            ds.forEach(out::add);
        }
        Collections.sort(out);
        return out;
    }

    private static String names(List<Path> paths) {
        return paths.stream().map(p -> p.getFileName().toString()).toList().toString();
    }

    public boolean contains(String name) { return fileByName.containsKey(name); }

    /** Every tensor name, in file (or index) order. */
    public Set<String> names() { return fileByName.keySet(); }

    /** The header entry of {@code name}; throws when it is missing. */
    public TensorInfo info(String name) throws ModelFormatException {
        return fileOf(name).tensors().get(name);
    }

    /** The file that holds {@code name}. */
    public Path pathOf(String name) throws ModelFormatException {
        return fileOf(name).path();
    }

    private SafetensorsFile fileOf(String name) throws ModelFormatException {
        SafetensorsFile f = fileByName.get(name);
        if (f == null) throw new ModelFormatException(source, "missing tensor '" + name + "'");
        return f;
    }

    /**
     * {@code name} as a new F32 host tensor (the caller closes it). F16/BF16/F64 are converted exactly (F64 rounds
     * to nearest); integer, bool and fp8 tensors are refused. When {@code expectedShape} is given the stored shape
     * must equal it.
     */
    public Tensor load(String name, long... expectedShape) throws IOException {
        SafetensorsFile file = fileOf(name);
        TensorInfo info = file.tensors().get(name);
        long[] shape = info.shape();
        if (expectedShape.length > 0 && !Arrays.equals(shape, expectedShape)) {
            throw new ModelFormatException(file.path(), "tensor '" + name + "' has shape " + Arrays.toString(shape)
                    + " but the config expects " + Arrays.toString(expectedShape));
        }
        ByteBuffer bytes = file.bytes(name);
        return switch (info.dtype()) {
            case "F32" -> copy(DType.F32, shape, bytes);
            case "F16" -> convert(DType.F16, shape, bytes);
            case "BF16" -> convert(DType.BF16, shape, bytes);
            case "F64" -> fromF64(shape, bytes);
            default -> throw new ModelFormatException(file.path(), "tensor '" + name + "' has dtype " + info.dtype()
                    + "; only floating-point weights (F32, F16, BF16, F64) can be loaded");
        };
    }

    private static Tensor copy(DType dtype, long[] shape, ByteBuffer bytes) {
        Tensor t = Tensor.allocate(dtype, shape);
        try {
            t.copyFrom(bytes);
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    private static Tensor convert(DType stored, long[] shape, ByteBuffer bytes) {
        try (Tensor raw = copy(stored, shape, bytes)) {
            Tensor out = Tensor.allocate(DType.F32, shape);
            try {
                new CpuBackend().convert(raw, out);
                return out;
            } catch (RuntimeException e) {
                out.close();
                throw e;
            }
        }
    }

    private static Tensor fromF64(long[] shape, ByteBuffer bytes) {
        Tensor out = Tensor.allocate(DType.F32, shape);
        DoubleBuffer src = bytes.asDoubleBuffer();
        FloatBuffer dst = out.asByteBuffer().asFloatBuffer();
        while (src.hasRemaining()) dst.put((float) src.get());
        return out;
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (SafetensorsFile f : files) {
            try {
                f.close();
            } catch (IOException e) {
                if (first == null) first = e;
                else first.addSuppressed(e);
            }
        }
        if (first != null) throw first;
    }

    /** The file or index this store was opened from. */
    @Override
    public String toString() { return source.toString(); }
}
