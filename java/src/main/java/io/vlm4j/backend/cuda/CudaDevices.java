package io.vlm4j.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cudaDevAttrClockRate;
import static org.bytedeco.cuda.global.cudart.cudaDevAttrMemoryClockRate;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalDouble;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * The GPUs as the CUDA runtime sees them through the JavaCPP presets ({@code org.bytedeco.cuda.global.cudart}, the
 * machine's dynamic libcudart.so.13): driver and runtime versions and, per device, the figures that roofline numbers
 * need (SMs, clocks, bus width, peak bandwidth, dense BF16 tensor peak). {@link CudaStatus} is the other view, from
 * our own kernels' statically linked runtime; the two can differ (a machine with a driver but no libcudart.so.13 runs
 * our kernels while this reports unavailable), so {@code info} shows both.
 * Nothing here throws an Error: without the driver or the runtime every entry point says "unavailable: reason".
 */
public final class CudaDevices {
    /** One GPU. Clocks in MHz, sizes in bytes; peak BF16 empty for devices {@link TensorCorePeak} does not know. */
    public record Device(int index, String name, int major, int minor, int smCount, long totalBytes, long freeBytes,
                         double smClockMhz, double memClockMhz, int busWidthBits, long l2Bytes,
                         double memoryBandwidthGBs, OptionalDouble bf16PeakTflops) {
        public String computeCapability() { return major + "." + minor; }

        /** One line for {@code info}. */
        public String summary() {
            return String.format(Locale.ROOT, "%d: %s, sm_%d%d, %d SMs, %.1f/%.1f GiB free, SM %.0f MHz, memory %.0f MHz"
                            + " x %d-bit = %.0f GB/s, L2 %d MiB, dense BF16 peak %s", index, name, major, minor, smCount,
                    freeBytes / GIB, totalBytes / GIB, smClockMhz, memClockMhz, busWidthBits, memoryBandwidthGBs,
                    l2Bytes >> 20, bf16PeakTflops.isPresent()
                            ? String.format(Locale.ROOT, "%.0f TFLOP/s", bf16PeakTflops.getAsDouble()) : "n/a");
        }
    }

    /** Versions as the runtime encodes them (1000 × major + 10 × minor), and the devices. */
    public record Report(int driverVersion, int runtimeVersion, List<Device> devices) {
        public String summary() {
            return "driver " + version(driverVersion) + ", runtime " + version(runtimeVersion) + ", " + devices.size()
                    + (devices.size() == 1 ? " device" : " devices");
        }
    }

    private static final double GIB = 1024.0 * 1024 * 1024;
    private static volatile Object outcome;  // a Report, or the reason (String) it could not be made

    private CudaDevices() {}

    /**
     * Directories to search for libcudart.so.13 / libcublas.so.13 before the presets are first used in this process
     * (same as {@code -Dorg.bytedeco.javacpp.platform.preloadpath=DIR1:DIR2}).
     */
    public static void addLibraryDirs(List<Path> dirs) {
        CudaPresets.addLibraryDirs(dirs);
    }

    /** Empty when the presets see at least one GPU; else why not (no driver, no libcudart.so.13, no device...). */
    public static Optional<String> unavailableReason() {
        return outcome() instanceof String why ? Optional.of(why) : Optional.empty();
    }

    /** "available: driver 13.0, runtime 13.0, 1 device" or "unavailable: reason". */
    public static String status() {
        return outcome() instanceof Report r ? "available: " + r.summary() : "unavailable: " + outcome();
    }

    /** The devices; throws {@link IllegalStateException} "unavailable: reason" when there are none to report. */
    public static Report report() {
        Object o = outcome();
        if (o instanceof Report r) return r;
        throw new IllegalStateException("CUDA runtime (presets) unavailable: " + o);
    }

    /** Memory use changes: the report is cached, so free memory is as of the first call. */
    private static Object outcome() {
        Object o = outcome;
        if (o == null) {
            synchronized (CudaDevices.class) {
                if ((o = outcome) == null) outcome = o = query();
            }
        }
        return o;
    }

    private static Object query() {
        Optional<String> notLoaded = CudaPresets.load(CudaPresets.CUDART);
        if (notLoaded.isPresent()) return notLoaded.get();
        try {
            int[] v = new int[1];
            cudart.cudaDriverGetVersion(v);  // 0 without a driver, and never fails
            int driver = v[0];
            check("cudaRuntimeGetVersion", cudart.cudaRuntimeGetVersion(v));
            int runtime = v[0];
            int[] count = new int[1];
            int e = cudart.cudaGetDeviceCount(count);
            if (e != cudaSuccess) {
                return errorText("cudaGetDeviceCount", e) + " (driver " + version(driver) + ", runtime " + version(runtime) + ")";
            }
            if (count[0] == 0) return "no CUDA device";
            int[] current = new int[1];
            check("cudaGetDevice", cudart.cudaGetDevice(current));
            List<Device> devices = new ArrayList<>();
            try {
                for (int i = 0; i < count[0]; i++) devices.add(device(i));
            } finally {
                cudart.cudaSetDevice(current[0]);  // cudaMemGetInfo needs each device current in turn
            }
            return new Report(driver, runtime, List.copyOf(devices));
        } catch (Throwable t) {  // a CUDA error (IllegalStateException) or a missing symbol in an older libcudart
            return t instanceof IllegalStateException ? t.getMessage() : CudaPresets.explain(t);
        }
    }

    private static Device device(int i) {
        try (cudaDeviceProp p = new cudaDeviceProp(); SizeTPointer free = new SizeTPointer(1);
             SizeTPointer total = new SizeTPointer(1)) {
            check("cudaGetDeviceProperties(" + i + ")", cudart.cudaGetDeviceProperties(p, i));
            // CUDA 13 removed the clock fields from cudaDeviceProp; the attributes remain (kHz)
            int[] kHz = new int[1];
            check("cudaDeviceGetAttribute(ClockRate)", cudart.cudaDeviceGetAttribute(kHz, cudaDevAttrClockRate, i));
            double smMhz = kHz[0] / 1000.0;
            check("cudaDeviceGetAttribute(MemoryClockRate)", cudart.cudaDeviceGetAttribute(kHz, cudaDevAttrMemoryClockRate, i));
            double memMhz = kHz[0] / 1000.0;
            check("cudaSetDevice(" + i + ")", cudart.cudaSetDevice(i));
            check("cudaMemGetInfo", cudart.cudaMemGetInfo(free, total));
            String name = p.name().getString().trim();
            int sms = p.multiProcessorCount(), bus = p.memoryBusWidth();
            return new Device(i, name, p.major(), p.minor(), sms, total.get(), free.get(), smMhz, memMhz, bus,
                    p.l2CacheSize(), TensorCorePeak.memoryBandwidthGBs(memMhz, bus),
                    TensorCorePeak.denseBf16Tflops(p.major(), p.minor(), name, sms, smMhz));
        }
    }

    /** Throws {@link IllegalStateException} naming the call and the CUDA error unless {@code error} is cudaSuccess. */
    static void check(String call, int error) {
        if (error != cudaSuccess) throw new IllegalStateException(errorText(call, error));
    }

    static String errorText(String call, int error) {
        String name = cudart.cudaGetErrorName(error).getString(), text = cudart.cudaGetErrorString(error).getString();
        cudart.cudaGetLastError();  // clear it, so that it does not surface in an unrelated later call
        return call + ": " + name + " (" + text + ")";
    }

    /** 13000 → "13.0"; 0 (no driver) → "none". */
    public static String version(int v) {
        return v <= 0 ? "none" : (v / 1000) + "." + (v % 1000) / 10;
    }
}
