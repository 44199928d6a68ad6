package io.vlm4j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vlm4j.image.ImagePreprocessor.Pipeline;
import io.vlm4j.io.Npy;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.testing.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pillow's BILINEAR resize, byte for byte (fixtures: models/scripts/make_resample_fixtures.py, Pillow 12.3.0): squash
 * resizes that shrink, stretch and mix both, and PubMedCLIP's own evaluation transform (torchvision Resize(256)
 * bilinear + CenterCrop(224), spec 06 §6.3) through the committed preset models/presets/pubmedclip-eval.
 */
class ImageBilinearTest {
    private static final Path DIR = resource("/image/bilinear");

    private static Path resource(String name) {
        try {
            return Path.of(ImageBilinearTest.class.getResource(name).toURI());
        } catch (Exception e) {
            throw new IllegalStateException(name, e);
        }
    }

    private static byte[] expected(String npy) throws Exception {
        return Npy.readUint8(DIR.resolve(npy));
    }

    @Test
    void squashResizesEqualPillow() throws Exception {
        JsonNode cases = new ObjectMapper().readTree(DIR.resolve("cases.json").toFile()).get("squash");
        for (JsonNode c : cases) {
            int h = c.get("height").asInt(), w = c.get("width").asInt();
            PreprocessorConfig cfg = new PreprocessorConfig(true, true, 0, h, w, PreprocessorConfig.BILINEAR, false, 0, 0, true, 1.0 / 255,
                    false, PreprocessorConfig.OPENAI_MEAN, PreprocessorConfig.OPENAI_STD);
            byte[] got = new ImagePreprocessor(cfg, Pipeline.HF).cropRgb8(DIR.resolve(c.get("image").asText()));
            assertArrayEquals(expected(c.get("expected").asText()), got, c.toString());
        }
        assertEquals(7, cases.size());
    }

    @Test
    void pubmedClipEvaluationTransformEqualsTorchvision() throws Exception {
        Path preset = Path.of(System.getProperty("vlm4j.models", "../models"), "presets/pubmedclip-eval/preprocessor_config.json");
        assertTrue(Files.isRegularFile(preset), preset + " (the committed preset)");
        ImagePreprocessor pre = ImagePreprocessor.load(preset, 224, Pipeline.OPENAI);
        assertEquals(PreprocessorConfig.BILINEAR, pre.config().resample());
        for (String name : new String[] {"a", "b"}) {
            assertArrayEquals(expected(name + "_pubmedclip.npy"), pre.cropRgb8(DIR.resolve(name + ".png")), name);
        }
    }

    /** The CLI's --preprocessor takes the preset in place of the model directory's config; a missing file is named. */
    @Test
    void preprocessorOptionUsesThePreset(@TempDir Path tmp) throws Exception {
        Path preset = Path.of(System.getProperty("vlm4j.models", "../models"), "presets/pubmedclip-eval/preprocessor_config.json");
        Path out = tmp.resolve("p.npy");
        Cli.Run run = Cli.run("preprocess", "--model", tmp.toString(), "--preprocessor", preset.toString(), "--pipeline", "openai",
                "--images", DIR.resolve("a.png").toString(), "--out", out.toString());
        assertEquals(0, run.code(), run.err());
        byte[] crop = expected("a_pubmedclip.npy");  // [224, 224, 3]
        float[] mean = {0.485f, 0.456f, 0.406f}, std = {0.229f, 0.224f, 0.225f};
        try (Tensor px = Npy.readFloat32(out)) {
            float[] v = px.toFloatArray();  // [1, 3, 224, 224]
            for (int c = 0; c < 3; c++) {
                for (int i : new int[] {0, 224 * 100 + 37, 224 * 224 - 1}) {
                    float want = ((crop[i * 3 + c] & 0xFF) / 255f - mean[c]) / std[c];
                    assertEquals(want, v[c * 224 * 224 + i], 1e-5, "channel " + c + " pixel " + i);
                }
            }
        }
        Cli.Run missing = Cli.run("preprocess", "--model", tmp.toString(), "--preprocessor", tmp.resolve("nope.json").toString(),
                "--images", DIR.resolve("a.png").toString(), "--out", out.toString());
        assertTrue(missing.code() != 0 && missing.err().contains("nope.json"), missing.err());
    }
}
