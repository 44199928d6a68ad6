package io.vlm4j.model.clip;

import io.vlm4j.backend.Backend;
import io.vlm4j.lora.LoraSite;
import io.vlm4j.lora.LoraState;
import io.vlm4j.lora.LoraWeights;
import io.vlm4j.model.Tower;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.util.ArrayList;
import java.util.List;

/**
 * A pre-LN tower's LoRA adapters: those of its {@link ClipEncoder} and of its final projection (a Linear; its bias, if any,
 * is the tower's business).
 */
public final class TowerAdapters {

    /** A tower whose adapters are one {@link TowerAdapters}: the LoRA methods of {@link Tower} delegate to it. */
    public interface Host extends Tower {

        /** This tower's adapters. */
        TowerAdapters adapters();

        @Override
        default List<LoraWeights.Linear> linears() { return adapters().linears(); }

        @Override
        default void attachAdapters(LoraState state) { adapters().attach(state); }

        @Override
        default void detachAdapters() { adapters().detach(); }

        @Override
        default void mergeAdapters(int sign) { adapters().merge(sign); }

        @Override
        default boolean trainable() { return true; }
    }
    private final Backend backend;
    private final ClipEncoder encoder;
    private final String projectionName;  // HF module path: visual_projection or text_projection
    private final Tensor projection;      // [E, D], or null for a tower without a projection
    private LoraSite projectionSite;      // null without an adapter on the projection

    public TowerAdapters(Backend backend, ClipEncoder encoder, String projectionName, Tensor projection) {
        this.backend = backend;
        this.encoder = encoder;
        this.projectionName = projectionName;
        this.projection = projection;
    }

    /** The Linear modules an adapter may wrap: the encoder's and the projection. */
    public List<LoraWeights.Linear> linears() {
        List<LoraWeights.Linear> list = new ArrayList<>(encoder.linears());
        if (projection != null) list.add(new LoraWeights.Linear(projectionName, projection.dim(1), projection.dim(0)));
        return list;
    }

    public void attach(LoraState state) {
        detach();
        encoder.attach(state);
        if (projection != null) projectionSite = state.site(backend, projection.dim(1), projection.dim(0), new String[] {projectionName}, 0);
    }

    public void detach() {
        encoder.detach();
        if (projectionSite != null) projectionSite.close();
        projectionSite = null;
    }

    /** Merges the attached adapters into the weights (sign +1) or takes them out (−1). */
    public void merge(int sign) {
        encoder.merge(sign);
        if (projectionSite != null) {
            try (TensorScope scratch = new TensorScope(backend.device())) {
                projectionSite.mergeInto(projection, sign, scratch);
            }
        }
    }

    public LoraSite projectionSite() { return projectionSite; }
}
