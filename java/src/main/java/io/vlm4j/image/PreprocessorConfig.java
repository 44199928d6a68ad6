package io.vlm4j.image;

import com.fasterxml.jackson.databind.JsonNode;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.StrictJson;
import java.io.IOException;
import java.nio.file.Path;

/**
 * HF {@code preprocessor_config.json} for CLIP-style image processors (spec 02 §7), missing fields taking the
 * {@code CLIPImageProcessor} defaults. {@code shortestEdge > 0}: aspect-preserving resize of the short side;
 * otherwise {@code resizeHeight x resizeWidth} exactly ("squash", SigLIP style).
 */
public record PreprocessorConfig(boolean doConvertRgb, boolean doResize, int shortestEdge, int resizeHeight, int resizeWidth,
                                 int resample, boolean doCenterCrop, int cropHeight, int cropWidth, boolean doRescale,
                                 double rescaleFactor, boolean doNormalize, float[] mean, float[] std) {
    public static final float[] OPENAI_MEAN = {0.48145466f, 0.4578275f, 0.40821073f};
    public static final float[] OPENAI_STD = {0.26862954f, 0.26130258f, 0.27577711f};
    /** PIL resample codes accepted: NEAREST, BILINEAR (torchvision's default, e.g. PubMedCLIP's training code) and BICUBIC. */
    public static final int NEAREST = 0, BILINEAR = 2, BICUBIC = 3;

    /** CLIP's defaults at image size {@code size} (224 for the OpenAI models). */
    public static PreprocessorConfig clip(int size) {
        return new PreprocessorConfig(true, true, size, 0, 0, BICUBIC, true, size, size, true, 1.0 / 255, true,
                OPENAI_MEAN.clone(), OPENAI_STD.clone());
    }

    /** The size of the pixel values this config produces: [3, outputHeight, outputWidth]. */
    public int outputHeight() { return doCenterCrop ? cropHeight : shortestEdge > 0 ? -1 : resizeHeight; }

    public int outputWidth() { return doCenterCrop ? cropWidth : shortestEdge > 0 ? -1 : resizeWidth; }

    /**
     * open_clip's {@code preprocess_cfg} in an {@code open_clip_config.json} (spec 04 §1, §6): mean and std, bicubic
     * interpolation, resize mode "shortest" (resize the short side, center crop; the default) or "squash" (resize to
     * size x size, no crop); the size is {@code preprocess_cfg.size}, else {@code model_cfg.vision_cfg.image_size}, else
     * {@code defaultSize}. Other interpolations and resize modes are refused by name.
     */
    public static PreprocessorConfig fromOpenClip(Path file, int defaultSize) throws IOException {
        JsonNode root = StrictJson.readConfig(file, "open_clip config");
        JsonNode p = root.path("preprocess_cfg");
        int size = p.path("size").canConvertToInt() ? p.path("size").asInt()
                : root.path("model_cfg").path("vision_cfg").path("image_size").asInt(defaultSize);
        if (size <= 0) throw new io.vlm4j.io.ModelFormatException(file, "preprocess_cfg.size must be positive, got " + size);
        String interp = p.path("interpolation").asText("bicubic");
        if (!interp.equals("bicubic")) {
            throw new io.vlm4j.io.ModelFormatException(file, "preprocess_cfg.interpolation '" + interp + "' is not supported (bicubic only)");
        }
        float[] mean = triple(file, p, "mean", OPENAI_MEAN), std = triple(file, p, "std", OPENAI_STD);
        String mode = p.path("resize_mode").asText("shortest");
        return switch (mode) {
            case "shortest" -> new PreprocessorConfig(true, true, size, 0, 0, BICUBIC, true, size, size, true, 1.0 / 255, true, mean, std);
            case "squash" -> new PreprocessorConfig(true, true, 0, size, size, BICUBIC, false, 0, 0, true, 1.0 / 255, true, mean, std);
            default -> throw new io.vlm4j.io.ModelFormatException(file, "preprocess_cfg.resize_mode '" + mode + "' is not supported (shortest, squash)");
        };
    }

    private static float[] triple(Path file, JsonNode p, String field, float[] fallback) throws io.vlm4j.io.ModelFormatException {
        JsonNode v = p.path(field);
        if (v.isMissingNode() || v.isNull()) return fallback.clone();
        if (!v.isArray() || v.size() != 3) throw new io.vlm4j.io.ModelFormatException(file, "preprocess_cfg." + field + " must be 3 numbers");
        float[] out = new float[3];
        for (int i = 0; i < 3; i++) out[i] = (float) v.get(i).asDouble();
        return out;
    }

    /** Reads {@code file}; fields it lacks take the CLIP defaults at {@code defaultSize}. */
    public static PreprocessorConfig load(Path file, int defaultSize) throws IOException {
        JsonNode c = StrictJson.readConfig(file, "preprocessor config");
        PreprocessorConfig d = clip(defaultSize);
        int shortest = d.shortestEdge, rh = 0, rw = 0;
        JsonNode size = c.path("size");
        if (size.canConvertToInt()) {
            shortest = positive(file, "size", size.asInt());
        } else if (size.isObject()) {
            if (size.has("shortest_edge")) {
                shortest = positive(file, "size.shortest_edge", size.get("shortest_edge").asInt(-1));
            } else if (size.has("height") && size.has("width")) {
                shortest = 0;
                rh = positive(file, "size.height", size.get("height").asInt(-1));
                rw = positive(file, "size.width", size.get("width").asInt(-1));
            } else {
                throw new ModelFormatException(file, "size must have shortest_edge or height and width, got " + size);
            }
        } else if (!size.isMissingNode()) {
            throw new ModelFormatException(file, "size must be a number or an object, got " + StrictJson.kind(size));
        }
        int ch = d.cropHeight, cw = d.cropWidth;
        JsonNode crop = c.path("crop_size");
        if (crop.canConvertToInt()) {
            ch = cw = positive(file, "crop_size", crop.asInt());
        } else if (crop.isObject()) {
            ch = positive(file, "crop_size.height", crop.path("height").asInt(-1));
            cw = positive(file, "crop_size.width", crop.path("width").asInt(-1));
        } else if (crop.isMissingNode() && shortest > 0) {
            ch = cw = shortest;
        }
        int resample = c.path("resample").asInt(d.resample);
        if (resample != BICUBIC && resample != BILINEAR && resample != NEAREST) {
            throw new ModelFormatException(file, "resample " + resample + " is not supported (3 = bicubic, 2 = bilinear, 0 = nearest)");
        }
        double rescale = c.path("rescale_factor").asDouble(d.rescaleFactor);
        if (!(rescale > 0) || Double.isInfinite(rescale)) throw new ModelFormatException(file, "rescale_factor must be > 0, got " + rescale);
        PreprocessorConfig cfg = new PreprocessorConfig(c.path("do_convert_rgb").asBoolean(true), c.path("do_resize").asBoolean(true),
                shortest, rh, rw, resample, c.path("do_center_crop").asBoolean(shortest > 0), ch, cw, c.path("do_rescale").asBoolean(true),
                rescale, c.path("do_normalize").asBoolean(true), triple(file, c.path("image_mean"), d.mean, false),
                triple(file, c.path("image_std"), d.std, true));
        if (!cfg.doCenterCrop && (!cfg.doResize || cfg.shortestEdge > 0)) {
            throw new ModelFormatException(file, "without center crop the images must be resized to a fixed height and width, "
                    + "or they would not form one batch");
        }
        return cfg;
    }

    private static int positive(Path file, String field, int v) throws ModelFormatException {
        if (v <= 0 || v > 16384) throw new ModelFormatException(file, field + " must be in 1..16384, got " + v);
        return v;
    }

    private static float[] triple(Path file, JsonNode n, float[] dflt, boolean nonZero) throws ModelFormatException {
        if (n.isMissingNode() || n.isNull()) return dflt.clone();
        float[] v = new float[3];
        if (n.isNumber()) {
            java.util.Arrays.fill(v, (float) n.asDouble());
        } else if (n.isArray() && (n.size() == 3 || n.size() == 1)) {
            for (int i = 0; i < 3; i++) v[i] = (float) n.get(n.size() == 1 ? 0 : i).asDouble();
        } else {
            throw new ModelFormatException(file, "image mean/std must be a number or a list of 1 or 3 numbers, got " + n);
        }
        for (float x : v) {
            if (!Float.isFinite(x) || (nonZero && x == 0)) throw new ModelFormatException(file, "bad image mean/std value " + n);
        }
        return v;
    }
}
