package io.vlm4j.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * What a model (or an adapter) is, for cache keys and reports: for files, the canonical path, the SHA-256 of
 * {@code config.json} and the size and modification time of every weight file, so that a re-exported or fine-tuned
 * checkpoint at the same path is a different model. In-memory models (seeded random weights) name themselves.
 */
public record ModelIdentity(String description) {
    public ModelIdentity {
        if (description == null || description.isBlank()) throw new IllegalArgumentException("empty model identity");
    }

    /** An in-memory model, e.g. {@code "random ViT-B/16 seed 0"}. */
    public static ModelIdentity of(String description) {
        return new ModelIdentity(description);
    }

    /**
     * A model directory (config.json + *.safetensors and shard indexes) or one weight file beside its config.json
     * (an index file brings the folder's shards with it).
     */
    public static ModelIdentity ofPath(Path model) throws IOException {
        if (!Files.exists(model)) throw new NoSuchFileException(model.toString(), null, "model path does not exist");
        Path real = model.toRealPath();
        Path dir = Files.isDirectory(real) ? real : real.getParent();
        List<Path> weights = new ArrayList<>();
        if (Files.isDirectory(real) || real.getFileName().toString().endsWith(".index.json")) {
            try (Stream<Path> s = Files.list(dir)) {
                s.filter(p -> {
                    String n = p.getFileName().toString();
                    return n.endsWith(".safetensors") || n.endsWith(".safetensors.index.json");
                }).sorted().forEach(weights::add);
            }
        } else {
            weights.add(real);
        }
        StringBuilder s = new StringBuilder("path=").append(real);
        Path config = dir.resolve("config.json");
        s.append(" config.json-sha256=").append(Files.isRegularFile(config) ? Fingerprints.sha256(Files.readAllBytes(config)) : "none");
        for (Path w : weights) s.append(" ").append(w.getFileName()).append(":").append(Fingerprints.stat(w).replace(' ', ','));
        return new ModelIdentity(s.toString());
    }

    @Override
    public String toString() { return description; }
}
