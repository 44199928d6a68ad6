package io.vlm4j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.io.ModelFormatException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A model directory with only an open_clip_config.json gets its preprocess_cfg (spec 04 §1, §6). */
class OpenClipPreprocessTest {

    @Test
    void preprocessCfgIsRead(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("open_clip_config.json"), """
                {"model_cfg": {"embed_dim": 512, "vision_cfg": {"image_size": 256}},
                 "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.5]}}""");
        PreprocessorConfig c = ImagePreprocessor.load(dir, 224, ImagePreprocessor.Pipeline.HF).config();
        assertArrayEquals(new float[] {0.5f, 0.5f, 0.5f}, c.mean());
        assertArrayEquals(new float[] {0.25f, 0.25f, 0.5f}, c.std());
        assertEquals(256, c.outputHeight(), "the size comes from vision_cfg.image_size");
        assertEquals(256, c.shortestEdge());

        Files.writeString(dir.resolve("open_clip_config.json"), "{\"preprocess_cfg\": {\"size\": 64, \"resize_mode\": \"squash\"}}");
        c = ImagePreprocessor.load(dir, 224, ImagePreprocessor.Pipeline.HF).config();
        assertEquals(64, c.outputHeight());
        assertEquals(0, c.shortestEdge(), "squash: exact resize, no crop");

        Files.writeString(dir.resolve("open_clip_config.json"), "{\"preprocess_cfg\": {\"interpolation\": \"bilinear\"}}");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ImagePreprocessor.load(dir, 224, ImagePreprocessor.Pipeline.HF));
        assertTrue(e.getMessage().contains("bilinear"), e.getMessage());

        Files.writeString(dir.resolve("preprocessor_config.json"), "{\"crop_size\": 32, \"size\": 32}");
        assertEquals(32, ImagePreprocessor.load(dir, 224, ImagePreprocessor.Pipeline.HF).config().outputHeight(),
                "an HF preprocessor_config.json wins");
    }
}
