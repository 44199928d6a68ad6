package io.vlm4j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.io.Npy;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.testing.Golden;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** ../shared/golden/preprocess: OpenAI's preprocessing (Pillow bicubic, torchvision crop) of four PNGs. */
class ImagePreprocessorGoldenTest {
    @Test
    void openAiPipelineReproducesEveryGoldenImage() throws Exception {
        Path dir = Golden.dir().resolve("preprocess");
        List<Path> pngs;
        try (Stream<Path> s = Files.list(dir)) {
            pngs = s.filter(p -> p.toString().endsWith(".png")).sorted().toList();
        }
        assertEquals(4, pngs.size());
        ImagePreprocessor pre = new ImagePreprocessor(PreprocessorConfig.clip(224), ImagePreprocessor.Pipeline.OPENAI);
        int exactCrops = 0;
        double worst = 0;
        try (Tensor all = pre.preprocess(pngs)) {
            float[] got = all.toFloatArray();
            int per = 3 * 224 * 224;
            for (int i = 0; i < pngs.size(); i++) {
                String stem = pngs.get(i).getFileName().toString().replace(".png", "");
                try (Tensor crop = Npy.readInt32(dir.resolve(stem + "_cropped_rgb_uint8.npy"));
                     Tensor want = Npy.readFloat32(dir.resolve(stem + "_pixel_values.npy"))) {
                    int[] wantCrop = crop.toIntArray();
                    byte[] mine = pre.cropRgb8(pngs.get(i));
                    int[] mineInts = new int[mine.length];
                    for (int k = 0; k < mine.length; k++) mineInts[k] = mine[k] & 0xFF;
                    assertArrayEquals(wantCrop, mineInts, stem + ": 8-bit crop");
                    exactCrops++;
                    float[] w = want.toFloatArray();
                    for (int k = 0; k < per; k++) worst = Math.max(worst, Math.abs(w[k] - got[i * per + k]));
                }
            }
        }
        System.out.printf("[golden preprocess] %d/%d crops exact, pixel_values max |diff| %.2e%n", exactCrops, pngs.size(), worst);
        assertTrue(worst <= 1e-6, "pixel_values max |diff| " + worst);
    }
}
