package io.vlm4j.image;

import static org.bytedeco.opencv.global.opencv_core.CV_16U;
import static org.bytedeco.opencv.global.opencv_core.CV_8U;
import static org.bytedeco.opencv.global.opencv_core.CV_8UC1;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_UNCHANGED;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imdecode;
import static org.bytedeco.opencv.global.opencv_imgproc.COLOR_BGR2RGB;
import static org.bytedeco.opencv.global.opencv_imgproc.COLOR_BGRA2RGBA;
import static org.bytedeco.opencv.global.opencv_imgproc.cvtColor;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.opencv.opencv_core.Mat;

/**
 * Decodes image files with OpenCV (PNG, JPEG, BMP, TIFF, WebP, PNM; the OpenCV JavaCPP presets) into 8-bit
 * interleaved pixels: gray (1 channel), RGB (3) or RGBA (4), in file order, EXIF orientation not applied (as Pillow
 * in CLIP's pipelines). 16-bit images are clipped to 8 bits as Pillow's {@code convert} does (values over 255 become
 * 255; scale such images deliberately before CLIP if that is not what you want). Palette PNGs are expanded and
 * flagged, so that the OpenAI pipeline can resize them with nearest neighbour as Pillow does for mode "P".
 */
public final class ImageDecoder {
    private ImageDecoder() {}

    static {
        loadOpenCv();
    }

    /**
     * Loads the OpenCV natives once. JavaCPP warns on stderr that the OpenBLAS preset (1.5.13, the newest published)
     * and JavaCPP (1.5.14) versions differ; that one known line is dropped so that the CLI's stderr stays clean.
     */
    private static synchronized void loadOpenCv() {
        java.io.PrintStream err = System.err;
        java.io.PrintStream filtered = new java.io.PrintStream(new java.io.OutputStream() {
            private final java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();

            @Override
            public void write(int b) {
                line.write(b);
                if (b == '\n') {
                    String s = line.toString(java.nio.charset.StandardCharsets.UTF_8);
                    if (!(s.startsWith("Warning: Versions of org.bytedeco:javacpp") && s.contains("openblas"))) err.print(s);
                    line.reset();
                }
            }

            @Override
            public void flush() {
                if (line.size() > 0) err.print(line.toString(java.nio.charset.StandardCharsets.UTF_8));
                line.reset();
                err.flush();
            }
        }, true, java.nio.charset.StandardCharsets.UTF_8);
        System.setErr(filtered);
        try {
            org.bytedeco.javacpp.Loader.load(org.bytedeco.opencv.global.opencv_imgcodecs.class);
            org.bytedeco.javacpp.Loader.load(org.bytedeco.opencv.global.opencv_imgproc.class);
        } finally {
            filtered.flush();
            System.setErr(err);
        }
    }

    /**
     * How 16-bit images become 8-bit: {@code CLIP} as Pillow's convert (values over 255 become 255; what the
     * reference pipelines do), or {@code MINMAX}, a linear stretch of the image's own range to 0..255 (what a
     * 16-bit X-ray or CT slice usually needs to be visible at all).
     */
    public enum SixteenBit { CLIP, MINMAX }

    /** Pixels [height, width, channels] as bytes, row-major. */
    public record Decoded(byte[] pixels, int height, int width, int channels, boolean palette) {}

    public static Decoded decode(Path file) throws IOException {
        return decode(file, SixteenBit.CLIP);
    }

    public static Decoded decode(Path file, SixteenBit sixteenBit) throws IOException {
        byte[] bytes;
        try {
            if (Files.isDirectory(file)) throw new ImageDecodeException(file, "is a directory, not an image file");
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ImageDecodeException(file, "no such file");
        } catch (AccessDeniedException e) {
            throw new ImageDecodeException(file, "permission denied");
        }
        if (bytes.length == 0) throw new ImageDecodeException(file, "empty file");
        return decode(file, bytes, sixteenBit);
    }

    /** Decodes bytes held in memory; {@code name} is used in error messages. */
    public static Decoded decode(Path name, byte[] bytes, SixteenBit sixteenBit) throws ImageDecodeException {
        boolean palette = isPalettePng(bytes);
        try (BytePointer data = new BytePointer(bytes); Mat buf = new Mat(1, bytes.length, CV_8UC1, data);
             Mat img = imdecode(buf, IMREAD_UNCHANGED)) {
            if (img == null || img.empty()) {
                throw new ImageDecodeException(name, "cannot decode: not a supported image format, or the file is corrupt or truncated");
            }
            int depth = img.depth(), ch = img.channels();
            if (depth != CV_8U && depth != CV_16U) {
                throw new ImageDecodeException(name, "unsupported pixel depth (OpenCV depth " + depth + "); 8- and 16-bit images are supported");
            }
            if (ch < 1 || ch > 4) throw new ImageDecodeException(name, "unsupported channel count " + ch);
            try (Mat eight = new Mat(); Mat rgb = new Mat()) {
                Mat src = img;
                if (depth == CV_16U) {
                    if (sixteenBit == SixteenBit.MINMAX) {
                        double[] lo = new double[1], hi = new double[1];
                        try (Mat gray = ch == 1 ? img.clone() : img.reshape(1, 0)) {
                            org.bytedeco.opencv.global.opencv_core.minMaxLoc(gray, lo, hi, null, null, null);
                        }
                        double scale = hi[0] > lo[0] ? 255.0 / (hi[0] - lo[0]) : 0;
                        img.convertTo(eight, CV_8U, scale, -lo[0] * scale);  // rounded and saturated by OpenCV
                    } else {
                        img.convertTo(eight, CV_8U);  // saturating: values > 255 clip to 255, like Pillow's I;16 -> L
                    }
                    src = eight;
                }
                Mat out;
                int channels;
                switch (ch) {
                    case 1 -> { out = src; channels = 1; }
                    case 2 -> throw new ImageDecodeException(name, "2-channel images are not supported");
                    case 3 -> { cvtColor(src, rgb, COLOR_BGR2RGB); out = rgb; channels = 3; }
                    default -> { cvtColor(src, rgb, COLOR_BGRA2RGBA); out = rgb; channels = 4; }
                }
                int h = out.rows(), w = out.cols();
                byte[] px = new byte[Math.multiplyExact(Math.multiplyExact(h, w), channels)];
                if (!out.isContinuous()) throw new ImageDecodeException(name, "decoder returned non-contiguous pixels");
                out.data().get(px);
                return new Decoded(px, h, w, channels, palette && channels != 4);
            }
        } catch (RuntimeException e) {  // OpenCV errors surface as RuntimeException through JavaCPP
            throw new ImageDecodeException(name, "cannot decode: " + e.getMessage());
        }
    }

    /** PNG signature, then the IHDR chunk's colour type (byte 25) == 3: indexed colour. */
    static boolean isPalettePng(byte[] b) {
        return b.length > 25 && (b[0] & 0xFF) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G' && b[12] == 'I' && b[13] == 'H'
                && b[14] == 'D' && b[15] == 'R' && b[25] == 3;
    }
}
