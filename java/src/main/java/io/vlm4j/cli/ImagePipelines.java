package io.vlm4j.cli;

import io.vlm4j.image.ImagePreprocessor;
import io.vlm4j.model.clip.ClipModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** The image preprocessing a command uses: the model directory's preprocessor_config.json, else CLIP's defaults. */
final class ImagePipelines {
    private ImagePipelines() {}

    static ImagePreprocessor.Pipeline parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "hf" -> ImagePreprocessor.Pipeline.HF;
            case "openai" -> ImagePreprocessor.Pipeline.OPENAI;
            default -> throw new IllegalArgumentException("--pipeline must be hf or openai, got '" + name + "'");
        };
    }

    /**
     * The model directory's preprocessing (or the --preprocessor file's), sized for the model's image tower when there
     * is no preprocessor config; its output must be the tower's input size.
     */
    static ImagePreprocessor forModel(Path model, ClipModel clip, ImageOptions o) throws IOException {
        int size = clip.vision().orElseThrow(() -> new IllegalArgumentException(model + ": the model has no image tower"))
                .imageSize();
        Path source = o.preprocessor != null ? requireFile(o.preprocessor) : Files.isDirectory(model) ? model : model.toAbsolutePath().getParent();
        ImagePreprocessor pre = ImagePreprocessor.load(source, size, parse(o.pipeline));
        int oh = pre.config().outputHeight(), ow = pre.config().outputWidth();
        if (oh != size || ow != size) {
            throw new IllegalArgumentException((o.preprocessor != null ? o.preprocessor : model) + ": the preprocessor config gives " + ow + "x" + oh
                    + " pixels but the image tower takes " + size + "x" + size);
        }
        return pre.withSixteenBit(o.sixteenBitMode());
    }

    static ImagePreprocessor forDirectory(Path dir, ImageOptions o) throws IOException {
        ImagePreprocessor pre = o.preprocessor != null ? ImagePreprocessor.load(requireFile(o.preprocessor), 224, parse(o.pipeline))
                : forDirectory(dir, o.pipeline);
        return pre.withSixteenBit(o.sixteenBitMode());
    }

    private static Path requireFile(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new java.nio.file.NoSuchFileException(file.toString(), null, "--preprocessor: no such file");
        return file;
    }

    /** For a directory that may hold only a preprocessor_config.json (224 when absent). */
    static ImagePreprocessor forDirectory(Path dir, String pipeline) throws IOException {
        int size = 224;
        Path config = dir.resolve("config.json");
        if (Files.isRegularFile(config)) {
            try {
                size = io.vlm4j.model.clip.ClipConfigLoader.load(dir).vision().map(v -> v.imageSize()).orElse(224);
            } catch (IOException | RuntimeException e) {
                size = 224;  // a tokenizer-only or non-CLIP config: the preprocessor config or CLIP's default decides
            }
        }
        return ImagePreprocessor.load(dir, size, parse(pipeline));
    }
}
