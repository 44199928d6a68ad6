package io.vlm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vlm4j.data.IdxDataset;
import io.vlm4j.io.SafetensorsWriter;
import io.vlm4j.io.WeightStore;
import io.vlm4j.model.clip.RandomWeights;
import io.vlm4j.tensor.TensorScope;
import io.vlm4j.testing.Cli;
import io.vlm4j.testing.Golden;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The evaluation end to end on a real dataset: Debian's Fashion-MNIST (installed by .ci/run; skipped without it),
 * two small CLIP-architecture models (the golden tiny model, and the same architecture with other random weights),
 * `compare` with every analysis. Neither model was trained, so zero-shot sits near chance (10%); what must hold is
 * that the pipeline produces a complete, plausible report: random ViT features still separate Fashion-MNIST well
 * above chance under a linear probe and k-NN (0.67 and 0.62 measured for the golden model on these caps; the test
 * asks for > 0.45 and > 0.35, i.e. well over 4x and 3x chance, leaving room for other seeds and platforms).
 */
class CompareFashionMnistTest {
    @TempDir
    Path tmp;

    /** The tiny model's config with fresh random weights of the same shapes. */
    static Path otherTinyModel(Path golden, Path dir) throws Exception {
        Files.createDirectories(dir);
        Files.copy(golden.resolve("models/tiny/config.json"), dir.resolve("config.json"));
        RandomWeights random = new RandomWeights(99);
        try (WeightStore store = WeightStore.open(golden.resolve("models/tiny")); TensorScope scope = new TensorScope()) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (String name : store.names()) w.add(name, scope.track(random.tensor(name, scope.track(store.load(name)).shape())));
            w.write(dir.resolve("model.safetensors"));
        }
        return dir;
    }

    @Test
    void comparesTwoModelsOnFashionMnist() throws Exception {
        assumeTrue(Files.isDirectory(IdxDataset.DEBIAN_FASHION_MNIST),
                "Debian's dataset-fashion-mnist is not installed (" + IdxDataset.DEBIAN_FASHION_MNIST + "): skipping");
        Path golden = Golden.dir();
        Path other = otherTinyModel(golden, tmp.resolve("other-tiny"));
        Path out = tmp.resolve("report"), cache = tmp.resolve("cache");
        String[] args = {"compare", "--models", "tiny=" + golden.resolve("models/tiny") + ",other=" + other,
            "--tokenizer", golden.resolve("tokenizer").toString(), "--dataset", "idx:" + IdxDataset.DEBIAN_FASHION_MNIST,
            "--max-train", "2000", "--max-val", "300", "--max-test", "600", "--overlay-images", "24", "--cache", cache.toString(),
            "--out", out.toString()};
        Cli.Run r = Cli.run(args);
        assertEquals(0, r.code(), r.out() + r.err());
        for (String f : List.of("report.md", "report.json", "summary.csv", "zero_shot_per_class.csv", "linear_probe_sweep.csv",
                "overlay_probe.csv")) {
            assertTrue(Files.size(out.resolve(f)) > 0, f);
        }
        for (String png : List.of("summary.png", "tiny-pca.png", "tiny-tsne.png", "other-pca.png", "other-tsne.png")) {
            BufferedImage img = ImageIO.read(out.resolve(png).toFile());
            assertNotNull(img, png + " is not a readable PNG");
            assertTrue(img.getWidth() >= 800 && img.getHeight() >= 600, png + " " + img.getWidth() + "x" + img.getHeight());
        }
        JsonNode json = new ObjectMapper().readTree(out.resolve("report.json").toFile());
        assertEquals(10, json.get("classNames").size());
        assertEquals(600, json.get("splitSizes").get("test").asInt());
        assertEquals(2, json.get("models").size());
        for (JsonNode m : json.get("models")) {
            double zs = m.get("zeroShot").get("accuracy").asDouble();
            double probe = m.get("linearProbe").get("test").get("accuracy").asDouble();
            double knn = m.get("knnAccuracy").asDouble();
            assertTrue(zs >= 0 && zs <= 1, "zero-shot " + zs);
            assertTrue(probe > 0.45, m.get("model") + " linear probe " + probe);
            assertTrue(knn > 0.35, m.get("model") + " k-NN " + knn);
            assertEquals(600, m.get("separability").get("samples").asInt());
            assertTrue(m.get("overlay").get("variants").size() == 2 * 2 * (10 + 3 + 2));
            double cos = m.get("overlay").get("byKind").get("CLASS_NAME").get("meanCosine").asDouble();
            assertTrue(cos > 0 && cos < 1, "overlaid text moves the embeddings: " + cos);
        }
        String md = Files.readString(out.resolve("report.md"));
        assertTrue(md.contains("| metric | tiny | other |") && md.contains("linear probe accuracy") && md.contains("![tiny-tsne.png]"), md);

        // the same selection again: every embedding comes from the cache
        Path out2 = tmp.resolve("report2");
        args[args.length - 1] = out2.toString();
        String[] quick = java.util.stream.Stream.concat(java.util.Arrays.stream(args), java.util.stream.Stream.of("--no-tsne", "--no-overlay"))
                .toArray(String[]::new);
        Cli.Run again = Cli.run(quick);
        assertEquals(0, again.code(), again.out() + again.err());
        JsonNode j2 = new ObjectMapper().readTree(out2.resolve("report.json").toFile());
        for (JsonNode m : j2.get("models")) {
            assertEquals("{\"train\":true,\"val\":true,\"test\":true}", m.get("cacheHits").toString());
        }
        assertEquals(json.get("models").get(0).get("linearProbe").get("test").get("accuracy").asDouble(),
                j2.get("models").get(0).get("linearProbe").get("test").get("accuracy").asDouble(), 0.0, "cached embeddings give the same probe");
    }
}
