package io.vlm4j.lora;

import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.SafetensorsWriter;
import io.vlm4j.io.WeightStore;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * The tensors of a LoRA adapter on the host: per wrapped Linear module A [r, in] and B [out, r] in F32, with the module's
 * rank, alpha and scale from the {@link LoraConfig} (spec 05 §3). Read from and written to PEFT's layout:
 * {@code adapter_config.json} + {@code adapter_model.safetensors} with keys
 * {@code base_model.model.<module path>.lora_A.weight} / {@code .lora_B.weight} (spec 05 §6), so adapters trained here
 * load in PEFT and PEFT's load here. Owns its tensors.
 */
public final class LoraWeights implements AutoCloseable {
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    /** What PeftModel puts before the base model's own module paths in saved keys. */
    public static final String KEY_PREFIX = "base_model.model.";

    /** A Linear layer of the base model that an adapter may wrap: its dotted module path and sizes. */
    public record Linear(String path, long in, long out) {}

    /** One wrapped module: A [rank, in] and B [out, rank] (host F32), scale s = α/r (α/√r with rsLoRA). */
    public record Module(String path, int rank, double alpha, double scale, Tensor a, Tensor b) {
        public long in() { return a.dim(1); }

        public long out() { return b.dim(0); }
    }

    private final LoraConfig config;
    private final Map<String, Module> modules;

    private LoraWeights(LoraConfig config, Map<String, Module> modules) {
        this.config = config;
        this.modules = modules;
    }

    /** Takes ownership of {@code modules}' tensors (in the given order). */
    public static LoraWeights of(LoraConfig config, List<Module> modules) {
        Map<String, Module> map = new LinkedHashMap<>();
        for (Module m : modules) {
            if (m.a().dim(0) != m.rank() || m.b().dim(1) != m.rank()) {
                throw new IllegalArgumentException(m.path() + ": A " + m.a() + " and B " + m.b() + " do not have rank " + m.rank());
            }
            if (map.put(m.path(), m) != null) throw new IllegalArgumentException("module '" + m.path() + "' given twice");
        }
        return new LoraWeights(config, map);
    }

    public LoraConfig config() { return config; }

    /** The wrapped modules in the base model's order (as listed when created, or sorted by path when read). */
    public Collection<Module> modules() { return modules.values(); }

    public Module module(String path) { return modules.get(path); }

    public int size() { return modules.size(); }

    /** Number of trainable values (Σ r·(in + out)). */
    public long parameterCount() {
        long n = 0;
        for (Module m : modules.values()) n += m.a().numel() + m.b().numel();
        return n;
    }

    /**
     * A fresh adapter for training, initialized as PEFT's default ({@code init_lora_weights=True}, spec 05 §4):
     * A ~ U(−1/√in, 1/√in) i.i.d. (kaiming_uniform_ with a = √5), B = 0, so the adapted model starts equal to the base.
     * The modules are those of {@code linears} that {@code config} targets; values depend only on the seed and the path.
     */
    public static LoraWeights init(LoraConfig config, List<Linear> linears, long seed) {
        Map<String, Module> map = new LinkedHashMap<>();
        try {
            for (Linear l : linears) {
                if (!config.targets(l.path(), false)) continue;
                int rank = config.rankOf(l.path());
                float[] a = new float[Math.toIntExact(rank * l.in())];
                SplittableRandom rnd = new SplittableRandom(seed ^ (l.path().hashCode() * 0x9E3779B97F4A7C15L));
                double bound = 1.0 / Math.sqrt(l.in());
                for (int i = 0; i < a.length; i++) a[i] = (float) ((2 * rnd.nextDouble() - 1) * bound);
                Tensor ta = Tensor.of(a, rank, l.in());
                map.put(l.path(), new Module(l.path(), rank, config.alphaOf(l.path()), config.scaleOf(l.path()), ta,
                        Tensor.allocate(io.vlm4j.tensor.DType.F32, l.out(), rank)));
            }
        } catch (RuntimeException e) {
            closeAll(map.values());
            throw e;
        }
        if (map.isEmpty()) {
            List<String> names = new ArrayList<>();
            for (Linear l : linears) names.add(l.path());
            throw new IllegalArgumentException("the LoRA targets " + describeTargets(config) + " match no Linear module of the model "
                    + "(modules: " + shortList(names) + ")");
        }
        return new LoraWeights(config, map);
    }

    /**
     * Reads a PEFT adapter directory. Every {@code lora_A}/{@code lora_B} pair must be complete and its module must be
     * one of {@code linears} with matching sizes; the rank is A's first dimension (checked against the config's
     * rank/rank_pattern), alpha and the scale come from the config. Any other key in the file is an error naming it.
     */
    public static LoraWeights load(Path dir, List<Linear> linears) throws IOException {
        if (!Files.isDirectory(dir)) throw new NoSuchFileException(dir.toString(), null, "adapter directory does not exist");
        LoraConfig config = LoraConfig.read(dir);
        Path file = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(file)) {
            String hint = Files.exists(dir.resolve("adapter_model.bin")) ? " (adapter_model.bin, a pickle, is not read: re-save with safe_serialization=True)" : "";
            throw new NoSuchFileException(file.toString(), null, "no adapter weights" + hint);
        }
        Map<String, Linear> byPath = new LinkedHashMap<>();
        for (Linear l : linears) byPath.put(l.path(), l);
        Map<String, Module> map = new LinkedHashMap<>();
        try (WeightStore store = WeightStore.open(file)) {
            Set<String> names = new TreeSet<>(store.names());
            for (String key : names) {
                if (!key.endsWith(".lora_A.weight")) {
                    if (!key.endsWith(".lora_B.weight")) {
                        throw new ModelFormatException(file, "tensor '" + key + "' is not a LoRA A/B weight; only plain LoRA adapters "
                                + "(bias \"none\", no modules_to_save) are supported");
                    }
                    continue;
                }
                String path = stripPrefix(file, key.substring(0, key.length() - ".lora_A.weight".length()));
                String bKey = KEY_PREFIX + path + ".lora_B.weight";
                if (!names.contains(bKey)) throw new ModelFormatException(file, "'" + key + "' has no matching '" + bKey + "'");
                Linear l = byPath.get(path);
                if (l == null) {
                    throw new ModelFormatException(file, "'" + key + "': the model has no Linear module '" + path + "' (LoRA on other "
                            + "layer types is not supported; modules: " + shortList(new ArrayList<>(byPath.keySet())) + ")");
                }
                int rank = Math.toIntExact(store.info(key).shape()[0]);
                if (rank != config.rankOf(path)) {
                    throw new ModelFormatException(file, "'" + key + "' has rank " + rank + " but the config says " + config.rankOf(path));
                }
                Tensor a = store.load(key, rank, l.in());
                Tensor b;
                try {
                    b = store.load(bKey, l.out(), rank);
                } catch (IOException | RuntimeException e) {
                    a.close();
                    throw e;
                }
                map.put(path, new Module(path, rank, config.alphaOf(path), config.scaleOf(path), a, b));
            }
            for (String key : names) {
                if (key.endsWith(".lora_B.weight")) {
                    String aKey = key.substring(0, key.length() - ".lora_B.weight".length()) + ".lora_A.weight";
                    if (!names.contains(aKey)) throw new ModelFormatException(file, "'" + key + "' has no matching '" + aKey + "'");
                }
            }
        } catch (IOException | RuntimeException e) {
            closeAll(map.values());
            throw e;
        }
        if (map.isEmpty()) throw new ModelFormatException(file, "the adapter has no LoRA weights");
        // the model's order, so that layers are visited in sequence
        Map<String, Module> ordered = new LinkedHashMap<>();
        for (Linear l : linears) if (map.containsKey(l.path())) ordered.put(l.path(), map.get(l.path()));
        return new LoraWeights(config, ordered);
    }

    private static String stripPrefix(Path file, String name) throws ModelFormatException {
        if (!name.startsWith(KEY_PREFIX)) {
            throw new ModelFormatException(file, "key '" + name + "' does not start with '" + KEY_PREFIX + "' (not a PEFT adapter file?)");
        }
        return name.substring(KEY_PREFIX.length());
    }

    /** The PEFT key of module {@code path}'s A (or B) weight. */
    public static String key(String path, boolean a) {
        return KEY_PREFIX + path + (a ? ".lora_A.weight" : ".lora_B.weight");
    }

    /**
     * Writes the adapter into {@code dir} (created if missing) in PEFT's layout; each file is written atomically
     * (temporary file + rename), weights first, so a reader never sees a config without its weights.
     */
    public void save(Path dir) throws IOException {
        Files.createDirectories(dir);
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
        for (Module m : modules.values()) {
            w.add(key(m.path(), true), m.a());
            w.add(key(m.path(), false), m.b());
        }
        w.write(dir.resolve(WEIGHTS_FILE));
        config.write(dir);
    }

    private static String describeTargets(LoraConfig c) {
        return c.targetRegex() != null ? "'" + c.targetRegex() + "'" : c.targets().toString();
    }

    private static String shortList(List<String> names) {
        return names.size() <= 6 ? String.join(", ", names)
                : String.join(", ", names.subList(0, 6)) + ", … (" + names.size() + " in all)";
    }

    private static void closeAll(Collection<Module> mods) {
        for (Module m : mods) {
            m.a().close();
            m.b().close();
        }
    }

    @Override
    public void close() {
        closeAll(modules.values());
    }
}
