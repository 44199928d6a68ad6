package io.vlm4j.model.vit;

import io.vlm4j.backend.Activation;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * A timm {@code VisionTransformer} trunk plus the open_clip {@code TimmModel} head on top of it (spec 04 §1, §3;
 * timm/models/vision_transformer.py, open_clip/timm_model.py).
 *
 * <p>Field meanings follow the timm constructor arguments: {@code width} = embed_dim, {@code depth}, {@code heads} =
 * num_heads, {@code mlpWidth} = embed_dim·mlp_ratio, {@code classToken} = class_token, {@code preNorm} = pre_norm
 * (a LayerNorm {@code norm_pre} before the blocks; timm then builds the patch conv without a bias),
 * {@code finalNorm} = final_norm, {@code pool} = global_pool ("token": the class token, "avg": the mean of the patch
 * tokens), {@code qkvBias} = qkv_bias. As in timm with {@code fc_norm=None}, the final norm is applied to every token
 * before pooling ({@code norm}) for "token" and to the pooled vector after pooling ({@code fc_norm}) for "avg".
 * {@code projection} is open_clip's {@code timm_proj}: "linear" (a bias-free {@code head.proj} Linear to
 * {@code embedDim}) or "none" ({@code embedDim} must then equal {@code width}). {@code pos_embed} always covers the
 * prefix token as well (timm's default {@code no_embed_class=False}).
 */
public record TimmVitConfig(int imageSize, int patchSize, int channels, int width, int depth, int heads, int mlpWidth,
                            double layerNormEps, String hiddenAct, boolean classToken, boolean preNorm, boolean finalNorm,
                            String pool, boolean qkvBias, String projection, int embedDim) {

    /** timm's default LayerNorm eps ({@code timm.layers.LayerNorm}, and the ViT's {@code partial(nn.LayerNorm, eps=1e-6)}). */
    public static final double TIMM_EPS = 1e-6;
    private static final List<String> PRESETS = List.of("vit_tiny_patch16_224", "vit_small_patch16_224",
            "vit_base_patch16_224", "vit_base_patch32_224", "vit_large_patch16_224", "vit_large_patch14_224");

    public TimmVitConfig {
        Objects.requireNonNull(hiddenAct, "hiddenAct");
        Objects.requireNonNull(pool, "pool");
        Objects.requireNonNull(projection, "projection");
        requirePositive("image_size", imageSize);
        requirePositive("patch_size", patchSize);
        requirePositive("in_chans", channels);
        requirePositive("embed_dim", width);
        requirePositive("depth", depth);
        requirePositive("num_heads", heads);
        requirePositive("mlp width", mlpWidth);
        requirePositive("projection embed_dim", embedDim);
        if (width % heads != 0) {
            throw new IllegalArgumentException("timm vit: embed_dim " + width + " is not divisible by num_heads " + heads);
        }
        if (imageSize < patchSize) {
            throw new IllegalArgumentException("timm vit: img_size " + imageSize + " is smaller than patch_size " + patchSize);
        }
        if (!(layerNormEps > 0) || !Double.isFinite(layerNormEps)) {
            throw new IllegalArgumentException("timm vit: LayerNorm eps must be a positive number, got " + layerNormEps);
        }
        Activation.fromHf(hiddenAct);  // throws naming the supported activations
        if (!pool.equals("token") && !pool.equals("avg")) {
            throw new IllegalArgumentException("timm vit: global_pool '" + pool + "' is not supported (supported: token, avg)");
        }
        if (pool.equals("token") && !classToken) {
            throw new IllegalArgumentException("timm vit: global_pool 'token' needs a class token");  // timm asserts the same
        }
        switch (projection) {
            case "linear" -> { }
            case "none" -> {
                if (embedDim != width) {
                    throw new IllegalArgumentException("timm vit: projection 'none' outputs the trunk width " + width
                            + ", but embed_dim is " + embedDim);
                }
            }
            default -> throw new IllegalArgumentException("timm vit: projection '" + projection
                    + "' is not supported (supported: linear, none)");
        }
        long grid = imageSize / patchSize;
        if (grid * grid + 1 > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("timm vit: img_size " + imageSize + " / patch_size " + patchSize + " gives too many patches");
        }
    }

    /**
     * The trunk of a timm registration with its defaults (class token, 'token' pool, final norm, exact GELU, qkv bias,
     * eps 1e-6) and no head: {@code vit_tiny_patch16_224} (192 wide, 12 blocks, 3 heads), {@code vit_small_patch16_224}
     * (384, 12, 6), {@code vit_base_patch16_224} (768, 12, 12), {@code vit_base_patch32_224}, {@code vit_large_patch16_224}
     * (1024, 24, 16), {@code vit_large_patch14_224}; MLP width 4·embed_dim.
     */
    public static TimmVitConfig preset(String timmName) {
        return switch (timmName.toLowerCase(Locale.ROOT)) {
            case "vit_tiny_patch16_224" -> trunk(224, 16, 192, 12, 3);
            case "vit_small_patch16_224" -> trunk(224, 16, 384, 12, 6);
            case "vit_base_patch16_224" -> trunk(224, 16, 768, 12, 12);
            case "vit_base_patch32_224" -> trunk(224, 32, 768, 12, 12);
            case "vit_large_patch16_224" -> trunk(224, 16, 1024, 24, 16);
            case "vit_large_patch14_224" -> trunk(224, 14, 1024, 24, 16);
            default -> throw new IllegalArgumentException("unknown timm ViT '" + timmName + "' (known: "
                    + String.join(", ", PRESETS) + ")");
        };
    }

    public static List<String> presetNames() { return PRESETS; }

    /** BiomedCLIP's image tower (spec 04 §1.1): {@code vit_base_patch16_224} + a bias-free Linear to 512. */
    public static TimmVitConfig biomedClip() {
        return preset("vit_base_patch16_224").withLinearProjection(512);
    }

    /** This trunk with open_clip's {@code timm_proj="linear"} head to {@code embedDim}. */
    public TimmVitConfig withLinearProjection(int embedDim) {
        return new TimmVitConfig(imageSize, patchSize, channels, width, depth, heads, mlpWidth, layerNormEps, hiddenAct,
                classToken, preNorm, finalNorm, pool, qkvBias, "linear", embedDim);
    }

    private static TimmVitConfig trunk(int image, int patch, int width, int depth, int heads) {
        return new TimmVitConfig(image, patch, 3, width, depth, heads, 4 * width, TIMM_EPS, "gelu", true, false, true,
                "token", true, "none", width);
    }

    public int headDim() { return width / heads; }

    /** Patches per side (G = S / P); the strided conv drops any remainder. */
    public int gridSize() { return imageSize / patchSize; }

    /** Prefix tokens before the patches: 1 with a class token, else 0. */
    public int prefixTokens() { return classToken ? 1 : 0; }

    /** Sequence length N = G² + prefix tokens, which is also the number of {@code pos_embed} rows. */
    public int numTokens() { return gridSize() * gridSize() + prefixTokens(); }

    /** Whether the patch conv has a bias: timm builds it with {@code bias=not pre_norm}. */
    public boolean patchBias() { return !preNorm; }

    public Activation activation() { return Activation.fromHf(hiddenAct); }

    private static void requirePositive(String field, int value) {
        if (value <= 0) throw new IllegalArgumentException("timm vit: " + field + " must be positive, got " + value);
    }
}
