package io.vlm4j.cli;

import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Option;

/** Options of every command that reads image files. */
final class ImageOptions {
    @Option(names = "--pipeline", defaultValue = "hf",
            description = "hf (CLIPImageProcessor arithmetic) or openai (torchvision Resize + CenterCrop) (default: ${DEFAULT-VALUE})")
    String pipeline;

    @Option(names = "--on-error", defaultValue = "fail",
            description = "a corrupt or unreadable image: fail (stop with its name) or skip (report it and go on) (default: ${DEFAULT-VALUE})")
    String onError;

    @Option(names = "--16bit", defaultValue = "clip",
            description = "16-bit images to 8 bits: clip (as Pillow, the reference pipelines) or minmax (stretch each image's range; "
                    + "for X-ray/CT) (default: ${DEFAULT-VALUE})")
    String sixteenBit;

    @Option(names = "--preprocessor",
            description = "a preprocessor_config.json to use instead of the model directory's, e.g. "
                    + "models/presets/pubmedclip-eval/preprocessor_config.json (PubMedCLIP's own evaluation transform; with --pipeline openai)")
    java.nio.file.Path preprocessor;

    io.vlm4j.image.ImageDecoder.SixteenBit sixteenBitMode() {
        return switch (sixteenBit.toLowerCase(Locale.ROOT)) {
            case "clip" -> io.vlm4j.image.ImageDecoder.SixteenBit.CLIP;
            case "minmax" -> io.vlm4j.image.ImageDecoder.SixteenBit.MINMAX;
            default -> throw new IllegalArgumentException("--16bit must be clip or minmax, got '" + sixteenBit + "'");
        };
    }

    boolean skipBad() {
        return switch (onError.toLowerCase(Locale.ROOT)) {
            case "skip" -> true;
            case "fail" -> false;
            default -> throw new IllegalArgumentException("--on-error must be skip or fail, got '" + onError + "'");
        };
    }

    /** Reports skipped images by name, one line each, then their count; returns how many were skipped. */
    static int reportSkipped(java.util.Map<java.nio.file.Path, String> skipped, int total) {
        skipped.forEach((p, why) -> System.err.println("warning: " + p + ": " + why + " (skipped)"));
        if (!skipped.isEmpty()) System.err.println("skipped " + skipped.size() + " of " + total + " images");
        return skipped.size();
    }

    static List<String> names(List<java.nio.file.Path> files) {
        return files.stream().map(java.nio.file.Path::toString).toList();
    }
}
