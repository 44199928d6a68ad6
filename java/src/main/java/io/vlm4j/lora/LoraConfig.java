package io.vlm4j.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.vlm4j.io.AtomicFiles;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.StrictJson;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PEFT {@code LoraConfig} ({@code adapter_config.json}; spec 05 §2, §5): rank and alpha with their per-module patterns,
 * rsLoRA, dropout and which modules are wrapped. Reading refuses what this runtime does not compute (DoRA, a bias on
 * lora_B, layer replication, {@code fan_in_fan_out} on Linear layers, trained biases, modules to save other than our own
 * head); unknown or informational keys are ignored, as PEFT itself does for plain LoRA inference.
 *
 * @param r              the default rank
 * @param alpha          the default {@code lora_alpha}
 * @param rsLora         scale α/√r instead of α/r
 * @param dropout        dropout probability on the LoRA branch's input (training only)
 * @param targets        list form of {@code target_modules} (a module matches an entry by equality or as a "."-suffix), or empty
 * @param targetRegex    string form of {@code target_modules} (full match), or null; {@code "all-linear"} is kept here verbatim
 * @param exclude        list form of {@code exclude_modules}
 * @param excludeRegex   string form of {@code exclude_modules}, or null
 * @param layers         {@code layers_to_transform}: layer indices, or empty for all
 * @param rankPattern    {@code rank_pattern}: key → rank; a module {@code n} matches key K if n matches {@code (.*\.)?(K)$}
 * @param alphaPattern   {@code alpha_pattern}: key → alpha, same matching
 * @param baseModel      {@code base_model_name_or_path} (informational)
 * @param taskType       {@code task_type} (informational), or null
 */
public record LoraConfig(int r, double alpha, boolean rsLora, double dropout, List<String> targets, String targetRegex,
                         List<String> exclude, String excludeRegex, Set<Integer> layers, Map<String, Integer> rankPattern,
                         Map<String, Double> alphaPattern, String baseModel, String taskType) {

    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String ALL_LINEAR = "all-linear";

    public LoraConfig {
        if (r < 1) throw new IllegalArgumentException("LoRA rank r must be >= 1, got " + r);
        if (!Double.isFinite(alpha)) throw new IllegalArgumentException("lora_alpha must be finite, got " + alpha);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("lora_dropout must be in [0, 1), got " + dropout);
        targets = List.copyOf(targets);
        exclude = List.copyOf(exclude);
        layers = Set.copyOf(layers);
        // JSON order matters: the first matching key wins (PEFT get_pattern_key)
        rankPattern = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(rankPattern));
        alphaPattern = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(alphaPattern));
        for (var e : rankPattern.entrySet()) {
            if (e.getValue() < 1) throw new IllegalArgumentException("rank_pattern '" + e.getKey() + "' must be >= 1, got " + e.getValue());
        }
        if (targets.isEmpty() && targetRegex == null) throw new IllegalArgumentException("target_modules is empty: no module would get an adapter");
        if (targetRegex != null && !targetRegex.equals(ALL_LINEAR)) compile("target_modules", targetRegex);
        if (excludeRegex != null) compile("exclude_modules", excludeRegex);
        if (baseModel == null) baseModel = "";
    }

    /** The common case: a target list, rank, alpha, dropout; no patterns. */
    public static LoraConfig of(List<String> targets, int r, double alpha, boolean rsLora, double dropout) {
        return new LoraConfig(r, alpha, rsLora, dropout, targets, null, List.of(), null, Set.of(), Map.of(), Map.of(), "", null);
    }

    /** This config with {@code base_model_name_or_path} set. */
    public LoraConfig withBaseModel(String base) {
        return new LoraConfig(r, alpha, rsLora, dropout, targets, targetRegex, exclude, excludeRegex, layers, rankPattern,
                alphaPattern, base, taskType);
    }

    /**
     * Whether PEFT would wrap the module at {@code path} (a dotted module path of the base model, e.g.
     * {@code vision_model.encoder.layers.3.self_attn.q_proj}) given that it is a Linear layer. {@code outputLayer}:
     * the module is the model's output layer, which {@code all-linear} leaves out (CLIP has none).
     */
    public boolean targets(String path, boolean outputLayer) {
        if (matchesModules(path, exclude, excludeRegex)) return false;
        boolean hit = ALL_LINEAR.equals(targetRegex) ? !outputLayer : matchesModules(path, targets, targetRegex);
        if (!hit) return false;
        if (layers.isEmpty()) return true;
        Matcher m = LAYER_INDEX.matcher(path);
        return m.find() && layers.contains(Integer.parseInt(m.group(1)));
    }

    private static final Pattern LAYER_INDEX = Pattern.compile("\\.(?:layers|layer|h|blocks|block)\\.(\\d+)\\.");

    private static boolean matchesModules(String path, List<String> list, String regex) {
        if (regex != null) return Pattern.compile(regex).matcher(path).matches();
        for (String t : list) if (path.equals(t) || path.endsWith("." + t)) return true;
        return false;
    }

    /** The rank of module {@code path}: the first matching {@code rank_pattern} key, else r. */
    public int rankOf(String path) {
        String key = patternKey(path, rankPattern.keySet());
        return key == null ? r : rankPattern.get(key);
    }

    /** The alpha of module {@code path}: the first matching {@code alpha_pattern} key, else lora_alpha. */
    public double alphaOf(String path) {
        String key = patternKey(path, alphaPattern.keySet());
        return key == null ? alpha : alphaPattern.get(key);
    }

    /** s = α/r, or α/√r with rsLoRA (spec 05 §3). */
    public double scaleOf(String path) {
        int rank = rankOf(path);
        double a = alphaOf(path);
        return rsLora ? a / Math.sqrt(rank) : a / rank;
    }

    /** PEFT {@code get_pattern_key}: the first key, in the JSON's order, whose pattern matches. */
    private static String patternKey(String path, Set<String> keys) {
        for (String k : keys) {
            if (Pattern.compile("(.*\\.)?(" + k + ")$").matcher(path).matches()) return k;
        }
        return null;
    }

    private static void compile(String field, String regex) {
        try {
            Pattern.compile(regex);
        } catch (java.util.regex.PatternSyntaxException e) {
            throw new IllegalArgumentException(field + ": bad regular expression '" + regex + "': " + e.getDescription());
        }
    }

    /** Reads {@code dir/adapter_config.json}; throws naming the file and the field for anything not supported. */
    public static LoraConfig read(Path dir) throws IOException {
        Path file = dir.resolve(CONFIG_FILE);
        JsonNode n = StrictJson.readConfig(file, "PEFT adapter config");
        String peftType = text(n, "peft_type").orElse("LORA");
        if (!peftType.equals("LORA")) throw new ModelFormatException(file, "peft_type is '" + peftType + "'; only LORA adapters are supported");
        refuseTrue(file, n, "use_dora", "DoRA adapters are not supported");
        refuseTrue(file, n, "lora_bias", "a bias on lora_B is not supported");
        refuseTrue(file, n, "fan_in_fan_out", "fan_in_fan_out applies to GPT-2 Conv1D layers, not to CLIP/BERT nn.Linear");
        JsonNode rep = n.get("layer_replication");
        if (rep != null && !rep.isNull() && !(rep.isArray() && rep.isEmpty())) {
            throw new ModelFormatException(file, "layer_replication is not supported");
        }
        String bias = text(n, "bias").orElse("none");
        if (!bias.equals("none")) throw new ModelFormatException(file, "bias '" + bias + "': only adapters with bias \"none\" are supported");
        JsonNode tp = n.get("target_parameters");
        if (tp != null && !tp.isNull() && !(tp.isArray() && tp.isEmpty())) {
            throw new ModelFormatException(file, "target_parameters (LoRA on raw parameters) is not supported");
        }
        try {
            List<String> targets = new ArrayList<>();
            String targetRegex = listOrRegex(file, n, "target_modules", targets);
            List<String> exclude = new ArrayList<>();
            String excludeRegex = listOrRegex(file, n, "exclude_modules", exclude);
            Set<Integer> layers = new TreeSet<>();
            JsonNode lt = n.get("layers_to_transform");
            if (lt != null && !lt.isNull()) {
                if (lt.isInt()) layers.add(lt.asInt());
                else for (JsonNode x : lt) layers.add(x.asInt());
            }
            Map<String, Integer> ranks = new LinkedHashMap<>();
            JsonNode rp = n.get("rank_pattern");
            if (rp != null && rp.isObject()) rp.fields().forEachRemaining(e -> ranks.put(e.getKey(), e.getValue().asInt()));
            Map<String, Double> alphas = new LinkedHashMap<>();
            JsonNode ap = n.get("alpha_pattern");
            if (ap != null && ap.isObject()) ap.fields().forEachRemaining(e -> alphas.put(e.getKey(), e.getValue().asDouble()));
            return new LoraConfig(n.path("r").asInt(8), n.path("lora_alpha").asDouble(8), n.path("use_rslora").asBoolean(false),
                    n.path("lora_dropout").asDouble(0), targets, targetRegex, exclude, excludeRegex, layers, ranks, alphas,
                    text(n, "base_model_name_or_path").orElse(""), text(n, "task_type").orElse(null));
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file, e.getMessage());
        }
    }

    private static String listOrRegex(Path file, JsonNode n, String field, List<String> list) throws ModelFormatException {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) return null;
        if (v.isTextual()) return v.asText();
        if (!v.isArray()) throw new ModelFormatException(file, field + " must be a list or a string, got " + StrictJson.kind(v));
        for (JsonNode x : v) list.add(x.asText());
        return null;
    }

    private static Optional<String> text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? Optional.empty() : Optional.of(v.asText());
    }

    private static void refuseTrue(Path file, JsonNode n, String field, String why) throws ModelFormatException {
        if (n.path(field).asBoolean(false)) throw new ModelFormatException(file, field + " is true: " + why);
    }

    /** Writes {@code dir/adapter_config.json} as PEFT does (sorted keys, indent 2), atomically. */
    public void write(Path dir) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        Map<String, Object> m = new TreeMap<>();
        m.put("alpha_pattern", alphaPattern);
        m.put("base_model_name_or_path", baseModel);
        m.put("bias", "none");
        m.put("exclude_modules", excludeRegex != null ? excludeRegex : exclude.isEmpty() ? null : new ArrayList<>(new TreeSet<>(exclude)));
        m.put("fan_in_fan_out", false);
        m.put("inference_mode", true);
        m.put("init_lora_weights", true);
        m.put("layers_pattern", null);
        m.put("layers_to_transform", layers.isEmpty() ? null : new ArrayList<>(new TreeSet<>(layers)));
        m.put("lora_alpha", alpha == Math.rint(alpha) ? (Object) (long) alpha : alpha);
        m.put("lora_bias", false);
        m.put("lora_dropout", dropout);
        m.put("modules_to_save", null);
        m.put("peft_type", "LORA");
        m.put("r", r);
        m.put("rank_pattern", rankPattern);
        m.put("revision", null);
        m.put("target_modules", targetRegex != null ? targetRegex : new ArrayList<>(new TreeSet<>(targets)));
        m.put("task_type", taskType);
        m.put("use_dora", false);
        m.put("use_rslora", rsLora);
        byte[] bytes = json.writeValueAsBytes(new LinkedHashMap<>(m));
        AtomicFiles.write(dir.resolve(CONFIG_FILE), out -> out.write(bytes));
    }
}
