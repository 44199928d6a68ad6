package io.vlm4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.backend.Backend;
import io.vlm4j.image.ImagePreprocessor;
import io.vlm4j.image.PreprocessorConfig;
import io.vlm4j.io.AtomicFiles;
import io.vlm4j.io.Npy;
import io.vlm4j.io.StrictJson;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.LongConsumer;

/**
 * Image embeddings of a dataset selection, computed once and reused. An entry is {@code <key>.npy} (F32 [N, E], the
 * unnormalized projected embeddings of {@link ClipModel#encodeImages}) and {@code <key>.json} (the key's parts in
 * clear, the source indices, labels, class names, the .npy's SHA-256, the creation time), both written atomically,
 * the .json last. The key is the SHA-256 of everything the numbers depend on: the model, the adapter, the dataset's
 * identity and the selected source indices, the preprocessing, and the backend and its compute dtype.
 * An entry that is incomplete, corrupt, or does not match what is asked is reported to the warning sink and
 * recomputed, never used.
 */
public final class EmbeddingCache {
    static final String FORMAT = "vlm4j-embedding-cache/1";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Path dir;
    private final Consumer<String> warnings;

    /** @param warnings receives one line per entry that could not be used (it is then recomputed) */
    public EmbeddingCache(Path dir, Consumer<String> warnings) {
        this.dir = dir;
        this.warnings = warnings;
    }

    public Path dir() { return dir; }

    /** The parts of a key, in clear. */
    public record Key(String model, String adapter, String dataset, String selection, String preprocessing, String backend) {
        /** Hex SHA-256 of the parts: the entry's file name. */
        public String digest() {
            return Fingerprints.sha256(FORMAT + "\nmodel=" + model + "\nadapter=" + adapter + "\ndataset=" + dataset + "\nselection="
                    + selection + "\npreprocessing=" + preprocessing + "\nbackend=" + backend + "\n");
        }

        Map<String, String> parts() {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("model", model);
            m.put("adapter", adapter);
            m.put("dataset", dataset);
            m.put("selection", selection);
            m.put("preprocessing", preprocessing);
            m.put("backend", backend);
            return m;
        }
    }

    /** Embeddings [N, E] (the caller closes them), whether they came from the cache, and the entry's .npy. */
    public record Result(Tensor embeddings, boolean hit, Key key, Path file) implements AutoCloseable {
        @Override
        public void close() { embeddings.close(); }
    }

    public static Key key(ModelIdentity model, Optional<ModelIdentity> adapter, ImageDataset dataset, ImagePreprocessor pre,
                          Backend backend) {
        int[] idx = sourceIndices(dataset);
        StringBuilder s = new StringBuilder();
        for (int i : idx) s.append(i).append(',');
        return new Key(model.description(), adapter.map(ModelIdentity::description).orElse("none"), dataset.identity(),
                "count=" + idx.length + " indices-sha256=" + Fingerprints.sha256(s.toString()), describe(pre),
                backend.name() + " " + backend.computeType());
    }

    /**
     * The image embeddings of every item of {@code dataset}: from the cache when a valid entry exists, else computed
     * with {@code clip} (reporting finished items to {@code progress}) and stored.
     */
    public Result imageEmbeddings(ClipModel clip, ModelIdentity model, Optional<ModelIdentity> adapter, ImagePreprocessor pre,
                                  ImageDataset dataset, LongConsumer progress) throws IOException {
        Key key = key(model, adapter, dataset, pre, clip.backend());
        String name = key.digest();
        Path npy = dir.resolve(name + ".npy"), json = dir.resolve(name + ".json");
        long dim = clip.vision().orElseThrow(() -> new IllegalArgumentException("the model has no image tower")).projectionDim();
        Optional<Tensor> cached = load(key, npy, json, dataset, dim);
        if (cached.isPresent()) {
            progress.accept(dataset.size());
            return new Result(cached.get(), true, key, npy);
        }
        Tensor emb = compute(clip, pre, dataset, progress);
        try {
            Files.createDirectories(dir);
            Npy.write(npy, emb);
            byte[] entry = JSON.writeValueAsBytes(entry(key, dataset, dim, sha256(npy)));
            AtomicFiles.write(json, out -> out.write(entry));
            return new Result(emb, false, key, npy);
        } catch (IOException | RuntimeException e) {
            emb.close();
            throw e;
        }
    }

    /** Image embeddings F32 [N, E] of every item, unnormalized, computed chunk by chunk; the caller closes them. */
    public static Tensor compute(ClipModel clip, ImagePreprocessor pre, ImageDataset dataset, LongConsumer progress) throws IOException {
        long e = clip.vision().orElseThrow(() -> new IllegalArgumentException("the model has no image tower")).projectionDim();
        Tensor out = Tensor.allocate(DType.F32, dataset.size(), e);
        try {
            DatasetPixels.forEachChunk(dataset, pre, Math.max(clip.batchSize(), 64), (start, pixels) -> {
                try (Tensor emb = clip.encodeImages(pixels, false)) {
                    out.view(start * e, pixels.dim(0), e).copyFrom(emb);
                }
                progress.accept(pixels.dim(0));
            });
            return out;
        } catch (IOException | RuntimeException ex) {
            out.close();
            throw ex;
        }
    }

    /** A valid entry's embeddings, or empty (with a warning when an entry exists but cannot be used). */
    private Optional<Tensor> load(Key key, Path npy, Path json, ImageDataset dataset, long dim) {
        if (!Files.exists(json)) {
            if (Files.exists(npy)) {
                warnings.accept("embedding cache: " + npy + ": no " + json.getFileName() + " beside it (incomplete entry); recomputing");
            }
            return Optional.empty();
        }
        try {
            JsonNode stored = StrictJson.parseObject(json, "cache entry", Files.readAllBytes(json));
            JsonNode expected = entry(key, dataset, dim, "");
            for (String field : new String[] {"format", "key", "parts", "indices", "multi_label", "class_names", "labels", "count", "dim"}) {
                if (!expected.get(field).equals(stored.get(field))) throw new IOException(json + ": " + field + " does not match what is asked");
            }
            if (!Files.exists(npy)) throw new IOException(npy + ": missing");
            if (!sha256(npy).equals(stored.path("embeddings_sha256").asText())) {
                throw new IOException(npy + ": SHA-256 differs from the one recorded in " + json.getFileName() + " (corrupt or replaced)");
            }
            Tensor t = Npy.readFloat32(npy);
            if (!Arrays.equals(t.shape(), new long[] {dataset.size(), dim})) {
                String shape = Arrays.toString(t.shape());
                t.close();
                throw new IOException(npy + ": shape " + shape + ", expected [" + dataset.size() + ", " + dim + "]");
            }
            return Optional.of(t);
        } catch (IOException | RuntimeException e) {
            warnings.accept("embedding cache: " + e.getMessage() + "; recomputing");
            return Optional.empty();
        }
    }

    /** The .json of an entry: key parts, selection, labels, embeddings checksum, creation time. */
    private static ObjectNode entry(Key key, ImageDataset dataset, long dim, String npySha256) {
        ObjectNode o = JSON.createObjectNode();
        o.put("format", FORMAT);
        o.put("key", key.digest());
        ObjectNode parts = o.putObject("parts");
        key.parts().forEach(parts::put);
        o.put("name", dataset.name());
        o.put("view", dataset.view());
        o.put("count", dataset.size());
        o.put("dim", Math.toIntExact(dim));
        ArrayNode idx = o.putArray("indices");
        for (int i : sourceIndices(dataset)) idx.add(i);
        o.put("multi_label", dataset.multiLabel());
        ArrayNode names = o.putArray("class_names");
        dataset.classNames().forEach(names::add);
        ArrayNode labels = o.putArray("labels");
        for (int i = 0; i < dataset.size(); i++) {
            if (dataset.multiLabel()) {
                ArrayNode row = labels.addArray();
                for (int v : dataset.labelVector(i)) row.add(v);
            } else {
                labels.add(dataset.label(i));
            }
        }
        o.put("embeddings_sha256", npySha256);
        o.put("created", Instant.now().toString());
        return o;
    }

    private static int[] sourceIndices(ImageDataset dataset) {
        int[] idx = new int[dataset.size()];
        for (int i = 0; i < idx.length; i++) idx[i] = dataset.sourceIndex(i);
        return idx;
    }

    /** Everything that changes the pixel values: pipeline, 16-bit mode and every preprocessor_config field. */
    static String describe(ImagePreprocessor pre) {
        PreprocessorConfig c = pre.config();
        return "pipeline=" + pre.pipeline() + " 16bit=" + pre.sixteenBit() + " convert_rgb=" + c.doConvertRgb() + " resize=" + c.doResize()
                + " shortest_edge=" + c.shortestEdge() + " size=" + c.resizeHeight() + "x" + c.resizeWidth() + " resample=" + c.resample()
                + " center_crop=" + c.doCenterCrop() + " crop=" + c.cropHeight() + "x" + c.cropWidth() + " rescale=" + c.doRescale()
                + " factor=" + c.rescaleFactor() + " normalize=" + c.doNormalize() + " mean=" + Arrays.toString(c.mean())
                + " std=" + Arrays.toString(c.std());
    }

    private static String sha256(Path file) throws IOException {
        MessageDigest md = Fingerprints.sha256();
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), md)) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
