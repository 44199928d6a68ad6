package io.vlm4j.lora;

import io.vlm4j.backend.Backend;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import io.vlm4j.train.Parameter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An adapter attached to a model: the F32 master values of every module's A and B on the backend's device, their
 * gradients, and the {@link LoraSite}s built from them. Created by {@link io.vlm4j.model.clip.ClipModel#attachLora}; the model owns it.
 */
public final class LoraState implements AutoCloseable {

    /** One module on the device. */
    record Entry(LoraWeights.Module host, Tensor a, Tensor b, Tensor gradA, Tensor gradB) {}

    private final Backend backend;
    private final LoraConfig config;
    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final TensorScope owned;
    private final List<LoraSite> sites = new ArrayList<>();

    public LoraState(Backend backend, LoraWeights weights) {
        this.backend = backend;
        this.config = weights.config();
        this.owned = new TensorScope(backend.device());
        try {
            for (LoraWeights.Module m : weights.modules()) {
                Tensor a = owned.f32(m.a().shape()), b = owned.f32(m.b().shape());
                a.copyFrom(m.a());
                b.copyFrom(m.b());
                entries.put(m.path(), new Entry(m, a, b, owned.f32(m.a().shape()), owned.f32(m.b().shape())));
            }
        } catch (RuntimeException e) {
            owned.close();
            throw e;
        }
    }

    public LoraConfig config() { return config; }

    /**
     * A site over the modules {@code paths} (those present in this adapter; module k writes output columns from
     * k·stride), or null when none of them has an adapter.
     */
    public LoraSite site(Backend b, long in, long out, String[] paths, long stride) {
        List<LoraSite.Part> parts = new ArrayList<>();
        int col = 0;
        for (int k = 0; k < paths.length; k++) {
            Entry e = entries.get(paths[k]);
            if (e == null) continue;
            long mOut = e.b().dim(0);
            if (e.a().dim(1) != in) {
                throw new IllegalArgumentException(paths[k] + ": lora_A " + e.a() + " does not match the layer's input size " + in);
            }
            parts.add(new LoraSite.Part(paths[k], k * stride, mOut, e.host().rank(), col, (float) e.host().scale(), e.a(), e.b(),
                    e.gradA(), e.gradB()));
            col += e.host().rank();
        }
        if (parts.isEmpty()) return null;
        LoraSite s = new LoraSite(b, in, out, parts);
        sites.add(s);
        return s;
    }

    /** Forgets sites that their encoder closed (on detach). */
    public void sitesClosed() { sites.clear(); }

    /** The trainable tensors: every module's A and B under their PEFT keys (weight decay applies to them). */
    public List<Parameter> parameters() {
        List<Parameter> list = new ArrayList<>();
        for (Entry e : entries.values()) {
            list.add(new Parameter(LoraWeights.key(e.host().path(), true), e.a(), e.gradA(), true));
            list.add(new Parameter(LoraWeights.key(e.host().path(), false), e.b(), e.gradB(), true));
        }
        return list;
    }

    /** Rebuilds every site's working matrices from the master values (after an optimizer step or a load). */
    public void refresh() {
        for (LoraSite s : sites) s.refresh();
    }

    /** Sets dropout (the config's probability) with a fresh seed per site for the next training step; 0 turns it off. */
    public void dropoutStep(long seed, boolean training) {
        float p = training ? (float) config.dropout() : 0f;
        long k = 0;
        for (LoraSite s : sites) s.dropout(p, seed * 0x2545F4914F6CDD1DL + (++k));
    }

    /** A host copy of the current values, in PEFT form, with this adapter's config. */
    public LoraWeights export() {
        List<LoraWeights.Module> mods = new ArrayList<>();
        try {
            for (Entry e : entries.values()) {
                Tensor a = Tensor.allocate(DType.F32, e.a().shape());
                Tensor b = Tensor.allocate(DType.F32, e.b().shape());
                a.copyFrom(e.a());
                b.copyFrom(e.b());
                LoraWeights.Module h = e.host();
                mods.add(new LoraWeights.Module(h.path(), h.rank(), h.alpha(), h.scale(), a, b));
            }
        } catch (RuntimeException ex) {
            for (LoraWeights.Module m : mods) {
                m.a().close();
                m.b().close();
            }
            throw ex;
        }
        return LoraWeights.of(config, mods);
    }

    /** Number of modules. */
    public int size() { return entries.size(); }

    @Override
    public void close() {
        owned.close();
    }
}
