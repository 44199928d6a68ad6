package io.vlm4j.model.clip;

import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * A CLIP model's configuration: HF {@code CLIPConfig} (spec 01 §1). {@code text}/{@code vision} are empty for the
 * single-tower model types ({@code clip_vision_model}, {@code clip_text_model}). {@code logitScaleInitValue} is only
 * the initializer; a checkpoint's {@code logit_scale} tensor overrides it.
 */
public record ClipConfig(Optional<ClipTextConfig> text, Optional<ClipVisionConfig> vision, int projectionDim,
                         double logitScaleInitValue) {
    /** ln(1/0.07), HF's default {@code logit_scale_init_value}. */
    public static final double DEFAULT_LOGIT_SCALE_INIT = 2.6592;
    /** The {@code hidden_act} names the kernels implement (see {@code Activation.fromHf}). */
    public static final Set<String> ACTIVATIONS =
            Set.of("quick_gelu", "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_tanh");
    private static final List<String> PRESETS = List.of("ViT-B/32", "ViT-B/16", "ViT-L/14", "ViT-L/14@336");

    public ClipConfig {
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(vision, "vision");
        if (text.isEmpty() && vision.isEmpty()) throw new IllegalArgumentException("a CLIP config needs a text or a vision tower");
        requirePositive("clip", "projection_dim", projectionDim);
        if (!Double.isFinite(logitScaleInitValue)) {
            throw new IllegalArgumentException("clip: logit_scale_init_value must be finite, got " + logitScaleInitValue);
        }
    }

    /** Both towers, each projecting to {@code projectionDim}, with the default logit scale initializer. */
    public static ClipConfig of(ClipTextConfig text, ClipVisionConfig vision, int projectionDim) {
        return new ClipConfig(Optional.of(text), Optional.of(vision), projectionDim, DEFAULT_LOGIT_SCALE_INIT);
    }

    /** OpenAI ViT-B/32 (spec 01 §1.4): the HF class defaults. */
    public static ClipConfig vitB32() {
        return of(ClipTextConfig.defaults(), ClipVisionConfig.defaults(), 512);
    }

    /** OpenAI ViT-B/16; LAION's ViT-B/16 differs only in using exact GELU. */
    public static ClipConfig vitB16() {
        return of(ClipTextConfig.defaults(), vision(768, 3072, 12, 12, 224, 16, 512), 512);
    }

    public static ClipConfig vitL14() {
        return of(text(768, 3072, 12, 12, 768), vision(1024, 4096, 24, 16, 224, 14, 768), 768);
    }

    public static ClipConfig vitL14_336() {
        return of(text(768, 3072, 12, 12, 768), vision(1024, 4096, 24, 16, 336, 14, 768), 768);
    }

    /** "ViT-B/32", "ViT-B/16", "ViT-L/14", "ViT-L/14@336", ignoring case and punctuation ("vit-l-14-336" works). */
    public static ClipConfig preset(String name) {
        String key = name.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]", "");
        return switch (key) {
            case "vitb32" -> vitB32();
            case "vitb16" -> vitB16();
            case "vitl14" -> vitL14();
            case "vitl14336" -> vitL14_336();
            default -> throw new IllegalArgumentException("unknown CLIP preset '" + name + "' (known: "
                    + String.join(", ", PRESETS) + ")");
        };
    }

    public static List<String> presetNames() { return PRESETS; }

    private static ClipTextConfig text(int width, int mlp, int layers, int heads, int projection) {
        return new ClipTextConfig(49408, width, mlp, layers, heads, 77, "quick_gelu", 1e-5, projection, 1, 49406, 49407);
    }

    private static ClipVisionConfig vision(int width, int mlp, int layers, int heads, int image, int patch, int projection) {
        return new ClipVisionConfig(width, mlp, layers, heads, 3, image, patch, "quick_gelu", 1e-5, projection);
    }

    // Checks shared by the tower configs; messages use the HF field names so they match config.json.

    static void requirePositive(String tower, String field, int value) {
        if (value <= 0) throw new IllegalArgumentException(tower + ": " + field + " must be positive, got " + value);
    }

    static void requireDivisible(String tower, int hiddenSize, int heads) {
        if (hiddenSize % heads != 0) {
            throw new IllegalArgumentException(tower + ": hidden_size " + hiddenSize
                    + " is not divisible by num_attention_heads " + heads);
        }
    }

    static void requireActivation(String tower, String hiddenAct) {
        if (hiddenAct == null || !ACTIVATIONS.contains(hiddenAct)) {
            throw new IllegalArgumentException(tower + ": unsupported hidden_act '" + hiddenAct + "' (supported: "
                    + String.join(", ", ACTIVATIONS.stream().sorted().toList()) + ")");
        }
    }

    static void requireEps(String tower, double eps) {
        if (!(eps > 0) || !Double.isFinite(eps)) {
            throw new IllegalArgumentException(tower + ": layer_norm_eps must be a positive number, got " + eps);
        }
    }
}
