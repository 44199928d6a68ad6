package io.vlm4j.model.clip;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.io.Npy;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.testing.Golden;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.jupiter.api.Test;

/**
 * A checkpoint written by real open_clip (resources/openclip/tiny, made by
 * models/convert/check_open_clip_conversion.py --fixture-out; see its README): open_clip_config.json +
 * open_clip_model.safetensors (F16 weights) load directly and reproduce open_clip's encode_image / encode_text.
 */
class OpenClipFixtureTest {
    /** float32 on both sides, different summation orders; the embeddings are O(1). */
    private static final double TOLERANCE = 1e-5;

    @Test
    void openClipCheckpointReproducesOpenClipOutputs() throws Exception {
        Path dir = Paths.get(OpenClipFixtureTest.class.getResource("/openclip/tiny").toURI());
        try (CpuBackend cpu = new CpuBackend(); ClipModel clip = ClipModel.load(dir, cpu);
             Tensor pixels = Npy.readFloat32(dir.resolve("pixel_values.npy"));
             Tensor ids = Npy.readInt32(dir.resolve("input_ids.npy"));
             Tensor img = clip.encodeImages(pixels, false); Tensor txt = clip.encodeTexts(ids, false);
             Tensor wantImg = Npy.readFloat32(dir.resolve("image_embeds.npy"));
             Tensor wantTxt = Npy.readFloat32(dir.resolve("text_embeds.npy"))) {
            double ei = Golden.maxAbsDiff(wantImg.toFloatArray(), img.toFloatArray());
            double et = Golden.maxAbsDiff(wantTxt.toFloatArray(), txt.toFloatArray());
            System.out.printf("open_clip fixture: image max |err| %.3g, text max |err| %.3g%n", ei, et);
            assertTrue(ei < TOLERANCE, "image embeddings max abs error " + ei);
            assertTrue(et < TOLERANCE, "text embeddings max abs error " + et);
        }
    }
}
