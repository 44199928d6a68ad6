package io.vlm4j.model.vit;

import io.vlm4j.model.clip.StoreWeights;

import static io.vlm4j.model.vit.VitReference.assertClose;

import io.vlm4j.backend.Backend;
import io.vlm4j.io.Npy;
import io.vlm4j.io.WeightStore;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link TimmVisionTower} against timm 1.0.29 itself (models/scripts/make_vit_fixtures.py): a tiny seeded
 * VisionTransformer from timm's vit_base_patch16_224 registration (32 px, patch 8, width 32, 2 blocks, 4 heads) under
 * open_clip's 'linear' TimmModel head (24), stored with open_clip key names.
 */
class TimmFixtureTest {
    static final Path DIR = VitReference.resource("/vit");
    /** The fixture's trunk with the head. */
    static final TimmVitConfig TINY = new TimmVitConfig(32, 8, 3, 32, 2, 4, 128, TimmVitConfig.TIMM_EPS, "gelu", true,
            false, true, "token", true, "linear", 24);
    /** The same trunk without the head: its output is timm's forward (norm, then the class token). */
    static final TimmVitConfig TRUNK_ONLY = new TimmVitConfig(32, 8, 3, 32, 2, 4, 128, TimmVitConfig.TIMM_EPS, "gelu", true,
            false, true, "token", true, "none", 32);

    static float[] npy(String name) throws Exception { return VitReference.npy(DIR, name); }

    @AfterAll
    static void printWorst() { VitReference.printWorst("fixture timm"); }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cpu", "reference", "cuda"})
    void reproducesTimmAndOpenClip(String backendName) throws Exception {
        double tol = VitReference.tolerance(backendName);
        try (Backend backend = VitReference.backend(backendName);
             WeightStore store = WeightStore.open(DIR.resolve("timm_vit.safetensors"));
             TimmVisionTower tower = new TimmVisionTower(backend, TINY, new StoreWeights(store), "visual.trunk.", "visual.head.");
             TimmVisionTower trunk = new TimmVisionTower(backend, TRUNK_ONLY, new StoreWeights(store), "visual.trunk.", "unused.");
             Tensor pixels = Npy.readFloat32(DIR.resolve("timm_pixel_values.npy"));
             Tensor embeds = Tensor.allocate(DType.F32, 3, 24); Tensor pooled = Tensor.allocate(DType.F32, 3, 32)) {
            trunk.forward(pixels, pooled);
            assertClose("fixture timm trunk pooled " + backendName, npy("timm_trunk_pooled.npy"), pooled.toFloatArray(), tol);
            tower.forward(pixels, embeds);
            assertClose("fixture timm image embeds " + backendName, npy("timm_image_embeds.npy"), embeds.toFloatArray(), tol);
        }
    }
}
