package io.vlm4j.cli;

import io.vlm4j.data.Datasets;
import io.vlm4j.data.EmbeddingCache;
import io.vlm4j.data.ImageDataset;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** Options shared by the commands that read a dataset: which one, its class names, the seed, the embedding cache. */
final class DatasetOptions {
    @Option(names = "--dataset", required = true, paramLabel = "DATASET", description = "dataset spec (see above)")
    String dataset;

    @Option(names = "--class-names", description = "class names, one per line, in label order (default: the format's own)")
    Path classNames;

    @Option(names = "--seed", defaultValue = "0", description = "seed of every sample, split and k-shot choice (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--cache", paramLabel = "DIR", description = "embedding cache folder: reuse an entry for the same inputs, else store one")
    Path cache;

    ImageDataset open() throws IOException {
        return Datasets.open(dataset, Optional.ofNullable(classNames));
    }

    Optional<EmbeddingCache> embeddingCache() {
        return Optional.ofNullable(cache).map(d -> new EmbeddingCache(d, w -> System.err.println("warning: " + w)));
    }
}
