package io.vlm4j.cli;

import io.vlm4j.image.ImagePreprocessor;
import io.vlm4j.io.Npy;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "preprocess", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Pixel values float32 [N, 3, H, W] of image files, as the model's preprocessor_config.json asks.")
final class PreprocessCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "directory with preprocessor_config.json (CLIP defaults when absent)")
    Path model;

    @Option(names = "--images", required = true, arity = "1..*", description = "image files, directories or globs")
    List<String> images;

    @Option(names = "--out", required = true, description = "output float32 NumPy file [N, 3, H, W]")
    Path out;

    @Mixin
    ImageOptions imageOptions;

    @Override
    public Integer call() throws Exception {
        boolean skipBad = imageOptions.skipBad();
        List<Path> files = Inputs.images(images);
        ImagePreprocessor pre = ImagePipelines.forDirectory(model, imageOptions);
        try (ImagePreprocessor.Result r = pre.preprocess(files, skipBad)) {
            ImageOptions.reportSkipped(r.skipped(), files.size());
            if (r.kept().isEmpty()) throw new IllegalArgumentException("no image could be read (" + files.size() + " skipped)");
            Npy.write(out, r.pixels());
            System.err.println("preprocessed " + r.kept().size() + " images to " + out);
        }
        return 0;
    }
}
