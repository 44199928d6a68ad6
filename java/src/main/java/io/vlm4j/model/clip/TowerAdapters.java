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
 * A pre-LN tower's LoRA adapters: those of its {@link ClipEncoder} and of the Linears after it (CLIP: the final projection;
 * SigLIP: the pooling head's out_proj and MLP, or the text head). Their biases, if any, are the tower's business.
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

    /** A Linear after the encoder: its HF module path and weight [out, in] (not a prepared weight: merged in place). */
    public record Head(String path, Tensor weight) {}

    private final Backend backend;
    private final ClipEncoder encoder;
    private final List<Head> heads;
    private final LoraSite[] sites;  // per head; null entries: no adapter on that Linear

    /**
     * The encoder and one projection (HF module path {@code projectionName}, e.g. visual_projection), weight [E, D], or
     * none when {@code projection} is null.
     */
    public TowerAdapters(Backend backend, ClipEncoder encoder, String projectionName, Tensor projection) {
        this(backend, encoder, projection == null ? List.of() : List.of(new Head(projectionName, projection)));
    }

    public TowerAdapters(Backend backend, ClipEncoder encoder, List<Head> heads) {
        this.backend = backend;
        this.encoder = encoder;
        this.heads = List.copyOf(heads);
        this.sites = new LoraSite[this.heads.size()];
    }

    /** The Linear modules an adapter may wrap: the encoder's, then the heads in order. */
    public List<LoraWeights.Linear> linears() {
        List<LoraWeights.Linear> list = new ArrayList<>(encoder.linears());
        for (Head h : heads) list.add(new LoraWeights.Linear(h.path(), h.weight().dim(1), h.weight().dim(0)));
        return list;
    }

    public void attach(LoraState state) {
        detach();
        try {
            encoder.attach(state);
            for (int i = 0; i < heads.size(); i++) {
                Tensor w = heads.get(i).weight();
                sites[i] = state.site(backend, w.dim(1), w.dim(0), new String[] {heads.get(i).path()}, 0);
            }
        } catch (RuntimeException e) {
            detach();
            throw e;
        }
    }

    public void detach() {
        encoder.detach();
        for (int i = 0; i < sites.length; i++) {
            if (sites[i] != null) sites[i].close();
            sites[i] = null;
        }
    }

    /** Merges the attached adapters into the weights (sign +1) or takes them out (−1). */
    public void merge(int sign) {
        encoder.merge(sign);
        try (TensorScope scratch = new TensorScope(backend.device())) {
            for (int i = 0; i < heads.size(); i++) if (sites[i] != null) sites[i].mergeInto(heads.get(i).weight(), sign, scratch);
        }
    }

    /** The site of head {@code i} (in the constructor's order), or null without an adapter there. */
    public LoraSite site(int i) { return sites[i]; }

    /** The site of the first head (CLIP's projection), or null without one or without an adapter there. */
    public LoraSite projectionSite() { return sites.length == 0 ? null : sites[0]; }
}
