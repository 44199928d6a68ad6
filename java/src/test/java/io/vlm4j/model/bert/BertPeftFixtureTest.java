package io.vlm4j.model.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.Backend;
import io.vlm4j.io.Npy;
import io.vlm4j.io.WeightStore;
import io.vlm4j.lora.LoraState;
import io.vlm4j.lora.LoraWeights;
import io.vlm4j.model.bert.BertTextTower.Pooling;
import io.vlm4j.model.bert.BertTextTower.Projection;
import io.vlm4j.model.bert.BertTextTowerTest.Case;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.train.Parameter;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Against PEFT 0.21 + transformers 5.17 (models/scripts/make_bert_lora_fixture.py; java/src/test/resources/bert_lora/
 * README.md): a PEFT adapter on every Linear of the BiomedCLIP-layout BERT tower of the {@code bert} fixture (open_clip
 * paths {@code text.transformer.encoder.layer.i.attention.self.query} ..., {@code text.proj.0/2}; rank and alpha
 * patterns), non-zero B: unmerged and merged outputs, unmerging back to the base, and the gradients of every lora_A /
 * lora_B for loss = Σ out·c, with and without activation checkpointing.
 */
class BertPeftFixtureTest {
    static final double OUT_TOL = 1e-5, GRAD_TOL = 1e-4;  // relative to the largest |reference| of each tensor

    static Path res(String name) throws Exception {
        return Path.of(BertPeftFixtureTest.class.getResource(name).toURI());
    }

    static float[] npy(String name) throws Exception {
        try (Tensor t = Npy.readFloat32(res("/bert_lora/" + name))) {
            return t.toFloatArray();
        }
    }

    /** max|got − want| / max|want| within {@code tol}, recorded for the report under the comparison's kind. */
    static void assertClose(float[] want, float[] got, double tol, String what) {
        assertEquals(want.length, got.length, what);
        String kind = "peft " + what.replaceAll(" base_model.*", "");
        double err = BertTextTowerTest.relativeError(kind, BertTextTowerTest.toDouble(want, want.length), got);
        assertTrue(err <= tol, what + ": max |diff| / max |ref| = " + err + " > " + tol);
    }

    @AfterAll
    static void report() {
        BertTextTowerTest.WORST.forEach((k, v) -> {
            if (k.startsWith("peft ")) System.out.printf("[bert peft] %-40s worst max|diff| / max|ref| = %.2e%n", k.substring(5), v);
        });
    }

    static java.util.stream.Stream<Case> backends() {
        return BertTextTowerTest.backends().filter(b -> !b.name().equals("cpu-bf16"));
    }

    static float[] forward(BertTextTower tower, Tensor ids) {
        try (Tensor out = Tensor.allocate(DType.F32, ids.dim(0), tower.projectionDim())) {
            tower.forward(ids, null, out);
            return out.toFloatArray();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void matchesPeft(Case bc) throws Exception {
        BertConfig config = BertConfig.load(res("/bert/config.json"));
        try (Backend backend = bc.backend(); WeightStore store = WeightStore.open(res("/bert/model.safetensors"));
             BertTextTower tower = new BertTextTower(backend, config, BertWeights.of(store), "text.transformer.", Pooling.CLS_LAST_HIDDEN_STATE,
                     Projection.MLP, 24, "text.proj.");
             Tensor ids = Npy.readInt32(res("/bert/input_ids.npy"));
             LoraWeights adapter = LoraWeights.load(res("/bert_lora/adapter"), tower.linears())) {
            assertEquals(14, adapter.size(), "6 Linears per layer and both projection Linears");
            assertEquals(2, adapter.module("text.transformer.encoder.layer.1.attention.self.key").rank());
            assertEquals(1.5, adapter.module("text.proj.2").scale(), 1e-12);
            float[] base = forward(tower, ids);
            assertClose(npy("base_text_embeds.npy"), base, OUT_TOL, bc.name() + " base");
            float[] unmerged;
            try (LoraState state = new LoraState(backend, adapter)) {
                tower.attachAdapters(state);
                unmerged = forward(tower, ids);
                assertClose(npy("adapter_text_embeds.npy"), unmerged, OUT_TOL, bc.name() + " unmerged");
                for (boolean checkpoint : new boolean[] {false, true}) {
                    for (Parameter p : state.parameters()) p.grad().copyFrom(new float[(int) p.grad().numel()]);
                    try (Tensor out = Tensor.allocate(DType.F32, ids.dim(0), 24);
                         BertTextTower.Tape tape = tower.forwardTrain(ids, null, out, checkpoint);
                         Tensor c = backend.adopt(Tensor.of(npy("read_out.npy"), ids.dim(0), 24))) {
                        assertClose(unmerged, out.toFloatArray(), 0, bc.name() + " training forward = forward");
                        tower.backward(tape, c);
                    }
                    try (WeightStore grads = WeightStore.open(res("/bert_lora/grads.safetensors"))) {
                        assertEquals(grads.names().size(), state.parameters().size());
                        for (Parameter p : state.parameters()) {
                            try (Tensor want = grads.load(p.name())) {
                                assertClose(want.toFloatArray(), p.grad().toFloatArray(), GRAD_TOL,
                                        bc.name() + " gradients" + (checkpoint ? " (checkpointed) " : " ") + p.name());
                            }
                        }
                    }
                }
                tower.detachAdapters();
                state.sitesClosed();
            }
            BertLoraTest.merge(tower, backend, adapter, +1);
            float[] merged = forward(tower, ids);
            assertClose(npy("adapter_merged_text_embeds.npy"), merged, OUT_TOL, bc.name() + " merged");
            assertClose(unmerged, merged, OUT_TOL, bc.name() + " merged vs unmerged");
            BertLoraTest.merge(tower, backend, adapter, -1);
            assertClose(base, forward(tower, ids), OUT_TOL, bc.name() + " merged and unmerged vs base");
        }
    }
}
