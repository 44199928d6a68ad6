package io.vlm4j.backend.cuda;

import java.io.File;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;

/**
 * Loads the JavaCPP presets for CUDA (org.bytedeco.cuda) without ever letting a missing library take the JVM down.
 * The presets bind the machine's own dynamic libraries (libcuda.so.1 from the driver, libcudart.so.13,
 * libcublas.so.13 + libcublasLt.so.13); we ship none of them, so on most machines one is missing and
 * {@link Loader#load} throws an {@link UnsatisfiedLinkError} (and afterwards NoClassDefFoundError for the same class).
 * Each presets class is tried once; the outcome, or the reason in words, is remembered.
 */
final class CudaPresets {
    /** The JavaCPP property (a path list) where the presets look for libcudart/libcublas besides the CUDA defaults. */
    static final String PRELOAD_PATH = "org.bytedeco.javacpp.platform.preloadpath";

    private static final Map<String, Optional<String>> OUTCOMES = new HashMap<>();

    private CudaPresets() {}

    /** The runtime bindings, which every other CUDA presets class inherits. */
    static final String CUDART = "org.bytedeco.cuda.global.cudart";
    static final String CUBLAS = "org.bytedeco.cuda.global.cublas";

    /** Empty when the presets class (e.g. {@link #CUBLAS}) loaded with its libraries; else why not. */
    static synchronized Optional<String> load(String presets) {
        Optional<String> outcome = OUTCOMES.get(presets);
        if (outcome == null) OUTCOMES.put(presets, outcome = tryLoad(presets));
        return outcome;
    }

    private static Optional<String> tryLoad(String presets) {
        // cudart's failure is the real reason for the others (a second attempt through another class would only
        // say NoClassDefFoundError "Could not initialize class ...cudart")
        if (!presets.equals(CUDART)) {
            Optional<String> runtime = load(CUDART);
            if (runtime.isPresent()) return runtime;
        }
        try {  // by name, so that even a jar without the presets classes ends here, not in a NoClassDefFoundError
            Loader.load(Class.forName(presets, false, CudaPresets.class.getClassLoader()));
            return Optional.empty();
        } catch (Throwable t) {  // UnsatisfiedLinkError, NoClassDefFoundError, ExceptionInInitializerError, ...
            return Optional.of(explain(t));
        }
    }

    /**
     * Adds directories holding libcudart.so.13 / libcublas.so.13 / libcublasLt.so.13 (e.g. a PyTorch install's
     * site-packages/nvidia/cu13/lib) to {@value #PRELOAD_PATH}. JavaCPP caches its platform properties at the first
     * load of any JavaCPP class (our own kernels included), so they are re-read here; it only helps presets not yet
     * tried in this process.
     */
    static synchronized void addLibraryDirs(List<Path> dirs) {
        if (dirs.isEmpty()) return;
        String added = dirs.stream().map(d -> d.toAbsolutePath().toString()).collect(Collectors.joining(File.pathSeparator));
        String old = System.getProperty(PRELOAD_PATH, "");
        System.setProperty(PRELOAD_PATH, old.isEmpty() ? added : added + File.pathSeparator + old);
        Loader.loadProperties(true);
    }

    /** A device address (from our own allocator) or stream handle as a JavaCPP pointer, not owned: never freed. */
    static Pointer at(long address) {
        return new Address(address);
    }

    private static final class Address extends Pointer {
        Address(long a) {
            address = a;
        }
    }

    /** The failure in words: which library is missing and what to do about it, from the whole cause chain. */
    static String explain(Throwable t) {
        StringBuilder all = new StringBuilder();
        for (Throwable c = t; c != null && all.length() < 4000; c = c.getCause()) all.append(c).append(' ');
        String s = all.toString();
        String hint = " (install it, or point -D" + PRELOAD_PATH + "=DIR / --cuda-lib-dir DIR at the folder that has it,"
                + " e.g. site-packages/nvidia/cu13/lib of a CUDA 13 PyTorch)";
        if (s.contains("libcuda.so")) return "no NVIDIA driver (libcuda.so.1 not found)";
        if (s.contains("libcudart.so")) return "the CUDA 13 runtime libcudart.so.13 was not found" + hint;
        if (s.contains("libcublasLt.so")) return "libcublasLt.so.13 (cuBLAS 13) was not found" + hint;
        if (s.contains("libcublas.so")) return "libcublas.so.13 (cuBLAS 13) was not found" + hint;
        if (t instanceof ClassNotFoundException) return "the CUDA presets (org.bytedeco:cuda) are not on the class path";
        String first = t.getMessage() == null ? t.toString() : t.getClass().getSimpleName() + ": " + t.getMessage();
        return "the CUDA presets failed to load: " + first.lines().findFirst().orElse(first);
    }
}
