package io.vlm4j.image;

import io.vlm4j.backend.cpu.NativeKernels;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.BytePointer;

/**
 * Image files to CLIP pixel values F32 [N, 3, H, W] (spec 02), decoded with OpenCV and resized with the native
 * Pillow-exact resampler. Two pipelines:
 * <ul>
 *   <li>{@link Pipeline#OPENAI} (OpenAI {@code clip.load}, open_clip): resize the short side on the image as decoded
 *       (RGBA premultiplied, palette images nearest-neighbour), torchvision center crop (round half to even), then RGB;</li>
 *   <li>{@link Pipeline#HF} (HF {@code CLIPImageProcessor}, slow): RGB first (alpha dropped), resize, center crop with
 *       floor offsets.</li>
 * </ul>
 * Then rescale and normalize as the config says. Images are processed in parallel, one per core.
 */
public final class ImagePreprocessor {
    public enum Pipeline { HF, OPENAI }

    private final PreprocessorConfig config;
    private final Pipeline pipeline;
    private final ImageDecoder.SixteenBit sixteenBit;

    public ImagePreprocessor(PreprocessorConfig config, Pipeline pipeline) {
        this(config, pipeline, ImageDecoder.SixteenBit.CLIP);
    }

    public ImagePreprocessor(PreprocessorConfig config, Pipeline pipeline, ImageDecoder.SixteenBit sixteenBit) {
        NativeKernels.ensureLoaded();
        this.config = config;
        this.pipeline = pipeline;
        this.sixteenBit = sixteenBit;
    }

    /** The same preprocessing with another 16-bit conversion. */
    public ImagePreprocessor withSixteenBit(ImageDecoder.SixteenBit mode) {
        return new ImagePreprocessor(config, pipeline, mode);
    }

    /**
     * The preprocessor of a model directory: its {@code preprocessor_config.json}, else the {@code preprocess_cfg} of an
     * {@code open_clip_config.json} there, else CLIP's defaults at {@code defaultSize}; or of a preprocessor config file
     * given itself. A path that does not exist is an error (not the defaults).
     */
    public static ImagePreprocessor load(Path modelDir, int defaultSize, Pipeline pipeline) throws IOException {
        if (!Files.isDirectory(modelDir) && !Files.isRegularFile(modelDir)) {
            throw new java.nio.file.NoSuchFileException(modelDir.toString(), null, "no model directory or preprocessor config there");
        }
        Path f = Files.isDirectory(modelDir) ? modelDir.resolve("preprocessor_config.json") : modelDir;
        Path openClip = Files.isDirectory(modelDir) ? modelDir.resolve("open_clip_config.json") : null;
        PreprocessorConfig cfg = Files.isRegularFile(f) ? PreprocessorConfig.load(f, defaultSize)
                : openClip != null && Files.isRegularFile(openClip) ? PreprocessorConfig.fromOpenClip(openClip, defaultSize)
                : PreprocessorConfig.clip(defaultSize);
        return new ImagePreprocessor(cfg, pipeline);
    }

    public PreprocessorConfig config() { return config; }

    public Pipeline pipeline() { return pipeline; }

    public ImageDecoder.SixteenBit sixteenBit() { return sixteenBit; }

    /** Pixel values of the images that could be read, and why the others could not; the caller closes it. */
    public record Result(Tensor pixels, List<Path> kept, Map<Path, String> skipped) implements AutoCloseable {
        @Override
        public void close() { pixels.close(); }
    }

    /** All images, or an {@link ImageDecodeException} for the first one (in list order) that cannot be read. */
    public Tensor preprocess(List<Path> files) throws IOException {
        Result r = preprocess(files, false);
        return r.pixels();
    }

    /**
     * @param skipBad true: images that cannot be read are left out and reported in {@link Result#skipped()};
     *                false: the first such image (in list order) fails the call with an {@link ImageDecodeException}
     */
    public Result preprocess(List<Path> files, boolean skipBad) throws IOException {
        int n = files.size();
        int oh = config.outputHeight(), ow = config.outputWidth();
        long per = 3L * oh * ow;
        String[] errors = new String[n];
        Tensor all = Tensor.allocate(DType.F32, n, 3, oh, ow);
        try {
            IntStream.range(0, n).parallel().forEach(i -> {
                try {
                    process(ImageDecoder.decode(files.get(i), sixteenBit), all.address() + i * per * Float.BYTES, 0);
                } catch (ImageDecodeException e) {
                    errors[i] = e.getMessage().startsWith(files.get(i) + ": ") ? e.getMessage().substring(files.get(i).toString().length() + 2) : e.getMessage();
                } catch (IOException | RuntimeException e) {
                    errors[i] = "cannot read: " + e.getMessage();
                }
            });
            Map<Path, String> skipped = new LinkedHashMap<>();
            List<Path> kept = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (errors[i] == null) {
                    kept.add(files.get(i));
                } else {
                    if (!skipBad) throw new ImageDecodeException(files.get(i), errors[i]);
                    skipped.put(files.get(i), errors[i]);
                }
            }
            if (skipped.isEmpty()) return new Result(all, kept, skipped);
            Tensor compact = Tensor.allocate(DType.F32, kept.size(), 3, oh, ow);
            int k = 0;
            for (int i = 0; i < n; i++) {
                if (errors[i] == null) compact.view(k++ * per, 3, oh, ow).copyFrom(all.view(i * per, 3, oh, ow));
            }
            all.close();
            return new Result(compact, kept, skipped);
        } catch (IOException | RuntimeException e) {
            all.close();
            throw e;
        }
    }

    /**
     * Pixel values F32 [n, 3, H, W] of images already in memory (dataset arrays such as MedMNIST or IDX files:
     * 8-bit gray or RGB), through the same resize, crop and normalize as files; {@code image.apply(i)} is called
     * once per index, from several threads. A failure names the index.
     */
    public Tensor preprocessDecoded(int n, java.util.function.IntFunction<ImageDecoder.Decoded> image) {
        int oh = config.outputHeight(), ow = config.outputWidth();
        long per = 3L * oh * ow;
        Tensor all = Tensor.allocate(DType.F32, n, 3, oh, ow);
        try {
            IntStream.range(0, n).parallel().forEach(i -> {
                try {
                    process(image.apply(i), all.address() + i * per * Float.BYTES, 0);
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException("image " + i + ": " + e.getMessage(), e);
                }
            });
            return all;
        } catch (RuntimeException e) {
            all.close();
            throw e;
        }
    }

    /** The 8-bit RGB crop [H, W, 3] just before rescale and normalize (for checks and debugging). */
    public byte[] cropRgb8(Path file) throws IOException {
        ImageDecoder.Decoded d = ImageDecoder.decode(file, sixteenBit);
        int oh = config.outputHeight(), ow = config.outputWidth();
        try (Tensor px = Tensor.allocate(DType.F32, 3, oh, ow); BytePointer crop = new BytePointer((long) oh * ow * 3)) {
            process(d, px.address(), crop.address());
            byte[] out = new byte[oh * ow * 3];
            crop.get(out);
            return out;
        }
    }

    /** One decoded image into out (F32 [3, H, W] at that address); crop (may be 0) receives the 8-bit crop. */
    private void process(ImageDecoder.Decoded d, long out, long crop) {
        byte[] px = d.pixels();
        int c = d.channels(), h = d.height(), w = d.width();
        boolean rgbFirst = pipeline == Pipeline.HF && config.doConvertRgb();
        if (rgbFirst && c == 4) {  // HF convert("RGB"): alpha dropped before the resize
            byte[] rgb = new byte[h * w * 3];
            for (int p = 0; p < h * w; p++) System.arraycopy(px, 4 * p, rgb, 3 * p, 3);
            px = rgb;
            c = 3;
        }
        int rh = h, rw = w;
        if (config.doResize()) {
            if (config.shortestEdge() > 0) {
                int s = config.shortestEdge(), shortSide = Math.min(h, w), longSide = Math.max(h, w);
                int newLong = (int) ((double) s * longSide / shortSide);  // truncated, as HF and torchvision
                rh = w <= h ? newLong : s;
                rw = w <= h ? s : newLong;
            } else {
                rh = config.resizeHeight();
                rw = config.resizeWidth();
            }
        }
        // OpenAI resizes palette images with nearest (Pillow mode "P"); HF converts them to RGB first
        int filter = d.palette() && !rgbFirst ? PreprocessorConfig.NEAREST : config.resample();
        int oh = config.outputHeight(), ow = config.outputWidth();
        try (BytePointer src = new BytePointer(px); BytePointer dst = new BytePointer((long) rh * rw * c);
             BytePointer stats = new BytePointer(24)) {
            NativeKernels.vlm_resize_u8(src.address(), h, w, c, dst.address(), rh, rw, filter, c == 4 ? 1 : 0);
            long top = 0, left = 0;
            if (config.doCenterCrop()) {
                top = pipeline == Pipeline.HF ? Math.floorDiv(rh - oh, 2) : torchvisionOffset(rh, oh);
                left = pipeline == Pipeline.HF ? Math.floorDiv(rw - ow, 2) : torchvisionOffset(rw, ow);
            }
            float[] mean = config.doNormalize() ? config.mean() : new float[] {0, 0, 0};
            float[] std = config.doNormalize() ? config.std() : new float[] {1, 1, 1};
            stats.asByteBuffer().order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer().put(mean).put(std);
            NativeKernels.vlm_crop_normalize_u8(dst.address(), rh, rw, c, top, left, oh, ow,
                    config.doRescale() ? config.rescaleFactor() : 1.0, stats.address(), stats.address() + 12, out, crop);
        }
    }

    /**
     * torchvision {@code center_crop}: an image smaller than the crop is zero-padded by (crop - size) // 2 first;
     * otherwise the offset is round((size - crop) / 2) with Python's round half to even.
     */
    static long torchvisionOffset(int size, int crop) {
        if (size < crop) return -((crop - size) / 2);
        double half = (size - crop) / 2.0;
        return (long) Math.rint(half);
    }
}
