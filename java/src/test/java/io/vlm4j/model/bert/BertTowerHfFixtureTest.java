package io.vlm4j.model.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.Backend;
import io.vlm4j.io.Npy;
import io.vlm4j.io.WeightStore;
import io.vlm4j.model.bert.BertTextTower.Pooling;
import io.vlm4j.model.bert.BertTextTower.Projection;
import io.vlm4j.model.clip.WeightSource;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Against real Hugging Face transformers: the outputs of a tiny random {@code BertModel} behind open_clip's poolers
 * and projections, written by models/scripts/make_bert_tower_fixture.py (java/src/test/resources/bert/README.md has
 * the details and versions). The weights use open_clip's {@code CustomTextCLIP} key names, including the
 * {@code pooler.dense.*} and {@code position_ids} tensors a BiomedCLIP-style tower must not need. The float64
 * {@link BertReference} is checked against the same outputs, so both oracles agree with HF.
 */
class BertTowerHfFixtureTest {

    /** (fixture name, pooling, projection, projection prefix). */
    static final Object[][] COMBOS = {
            {"mlp_cls_last_hidden_state", Pooling.CLS_LAST_HIDDEN_STATE, Projection.MLP, "text.proj."},
            {"linear_cls_pooler", Pooling.CLS_POOLER, Projection.LINEAR, "extra.linear_proj."},
            {"none_mean", Pooling.MEAN, Projection.NONE, null},
    };

    static Stream<Arguments> cases() {
        List<Arguments> list = new ArrayList<>();
        BertTextTowerTest.backends().forEach(b -> {
            for (Object[] c : COMBOS) list.add(Arguments.of(b, c[0], c[1], c[2], c[3]));
        });
        return list.stream();
    }

    @AfterAll
    static void printWorst() {
        BertTextTowerTest.WORST.forEach((k, v) -> {
            if (k.contains("HF")) System.out.printf("[bert hf fixture] %-48s max error %.2e (relative to max|ref|)%n", k, v);
        });
    }

    static Path resource(String name) throws Exception {
        return Path.of(BertTowerHfFixtureTest.class.getResource("/bert/" + name).toURI());
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void matchesTransformersAndOpenClip(BertTextTowerTest.Case bc, String name, Pooling pooling, Projection projection,
                                        String projPrefix) throws Exception {
        BertConfig config = BertConfig.load(resource("config.json"));
        assertEquals(new BertConfig(100, 32, 2, 4, 48, 40, 2, 1e-12, "gelu", 0), config);
        try (WeightStore store = WeightStore.open(resource("model.safetensors"));
             Tensor ids = Npy.readInt32(resource("input_ids.npy"));
             Tensor expectedT = Npy.readFloat32(resource("expected_" + name + ".npy"))) {
            WeightSource weights = BertWeights.of(store);
            int e = Math.toIntExact(expectedT.dim(1));
            float[] expected = expectedT.toFloatArray();
            long b = ids.dim(0), len = ids.dim(1);
            try (Backend backend = bc.backend();
                 BertTextTower tower = new BertTextTower(backend, config, weights, "text.transformer.", pooling, projection,
                         e, projPrefix);
                 Tensor out = Tensor.allocate(DType.F32, b, e)) {
                tower.forward(ids, null, out);
                double err = BertTextTowerTest.relativeError(bc.name() + " HF " + name,
                        BertTextTowerTest.toDouble(expected, e), out.toFloatArray());
                assertTrue(err <= bc.tolerance(), bc + " " + name + ": relative error " + err + " > " + bc.tolerance());
            }
            if (bc.name().equals("reference")) {  // the float64 oracle of the other tests agrees with HF too
                int[] flat = ids.toIntArray();
                int[][] idRows = new int[(int) b][(int) len], mask = new int[(int) b][(int) len];
                for (int i = 0; i < flat.length; i++) {
                    idRows[i / (int) len][i % (int) len] = flat[i];
                    mask[i / (int) len][i % (int) len] = flat[i] != config.padTokenId() ? 1 : 0;
                }
                double[][] ref = new BertReference(config, weights, "text.transformer.", projPrefix)
                        .forward(idRows, mask, pooling, projection, e);
                double err = BertTextTowerTest.relativeError("float64 oracle vs HF " + name, ref, expected);
                assertTrue(err <= 1e-5, "float64 reference vs HF " + name + ": relative error " + err);
            }
        }
    }
}
