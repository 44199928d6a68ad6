package io.vlm4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code java -jar vlm4j.jar <command>}. Exit status: 0 success, 2 bad arguments or bad input files, 1 internal
 * failure; errors are one line on stderr starting with {@code error:}.
 */
@Command(name = "vlm4j", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Run CLIP-family vision-language models on native kernels.",
        subcommands = {InfoCommand.class, TokenizeCommand.class, PreprocessCommand.class, EncodeImagesCommand.class,
                EncodeTextsCommand.class, ZeroShotCommand.class, EmbedDatasetCommand.class, CompareCommand.class, LoraTrainCommand.class, LoraEvalCommand.class, BenchCommand.class, BenchGemmCommand.class,
                CheckCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    public static final int EXIT_BAD_INPUT = 2;
    public static final int EXIT_INTERNAL = 1;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit status (tests call this instead of {@link #main}). */
    public static int run(String... args) {
        CommandLine cmd = new CommandLine(new Main());
        cmd.setParameterExceptionHandler((ex, a) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("error: " + ex.getMessage());
            err.println("(see: vlm4j " + ex.getCommandLine().getCommandName() + " --help)");
            err.flush();
            return EXIT_BAD_INPUT;
        });
        cmd.setExecutionExceptionHandler((ex, c, parsed) -> {
            PrintWriter err = c.getErr();
            err.println("error: " + describe(ex));
            err.flush();
            return exitCodeFor(ex);
        });
        try {
            return cmd.execute(args);
        } catch (Throwable t) {  // picocli rethrows Errors; never let one escape as a stack trace
            System.err.println("error: " + describe(t));
            return EXIT_INTERNAL;
        }
    }

    static int exitCodeFor(Throwable ex) {
        if (ex instanceof UncheckedIOException u) ex = u.getCause();
        if (ex instanceof IOException || ex instanceof IllegalArgumentException || ex instanceof IllegalStateException) {
            return EXIT_BAD_INPUT;
        }
        return EXIT_INTERNAL;
    }

    static String describe(Throwable ex) {
        if (ex instanceof UncheckedIOException u) ex = u.getCause();
        if (ex instanceof LinkageError) {  // e.g. image commands in vlm4j-nocv.jar, which has no OpenCV
            String what = String.valueOf(ex.getMessage()) + (ex.getCause() == null ? "" : " " + ex.getCause());
            boolean openCv = what.contains("opencv") || what.contains("ImageDecoder");
            return ex.getClass().getSimpleName() + ": " + ex.getMessage()
                    + (openCv ? " (this jar has no OpenCV: image commands need the full vlm4j.jar)" : "");
        }
        if (ex instanceof NoSuchFileException n) return n.getFile() + ": no such file" + (n.getReason() == null ? "" : " (" + n.getReason() + ")");
        String msg = ex.getMessage();
        if (msg == null || msg.isBlank()) return ex.getClass().getSimpleName();
        return ex instanceof IOException || ex instanceof IllegalArgumentException || ex instanceof IllegalStateException
                ? msg : ex.getClass().getSimpleName() + ": " + msg;
    }

    /** The version from the build (version.properties is filtered by Maven). */
    public static final class Version implements CommandLine.IVersionProvider {
        public static String get() {
            try (InputStream in = Main.class.getResourceAsStream("/io/vlm4j/version.properties")) {
                Properties p = new Properties();
                if (in != null) p.load(in);
                return p.getProperty("version", "unknown");
            } catch (IOException e) {
                return "unknown";
            }
        }

        @Override
        public String[] getVersion() {
            return new String[] {"vlm4j " + get()};
        }
    }
}
