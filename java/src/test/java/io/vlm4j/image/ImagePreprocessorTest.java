package io.vlm4j.image;

import static org.bytedeco.opencv.global.opencv_core.CV_16UC1;
import static org.bytedeco.opencv.global.opencv_core.CV_8UC;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imwrite;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.image.ImagePreprocessor.Pipeline;
import io.vlm4j.tensor.NativeMemory;
import io.vlm4j.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Geometry of both pipelines, image modes (gray, RGBA, palette, 16-bit, JPEG) and unreadable files. */
class ImagePreprocessorTest {
    @TempDir
    Path tmp;

    /** Writes an 8-bit image given in OpenCV's channel order (BGR / BGRA). */
    private Path write(String name, int h, int w, int c, byte[] px) {
        Path p = tmp.resolve(name);
        try (BytePointer data = new BytePointer(px); Mat m = new Mat(h, w, CV_8UC(c), data)) {
            assertTrue(imwrite(p.toString(), m), "imwrite " + name);
        }
        return p;
    }

    private static int[] ints(byte[] b) {
        int[] v = new int[b.length];
        for (int i = 0; i < b.length; i++) v[i] = b[i] & 0xFF;
        return v;
    }

    private static PreprocessorConfig noNormalize(int size) {
        PreprocessorConfig d = PreprocessorConfig.clip(size);
        return new PreprocessorConfig(true, true, size, 0, 0, 3, true, size, size, true, 1.0 / 255, false, d.mean(), d.std());
    }

    /** Spec 02 §3.2: a 227x224 image is not resized; torchvision crops columns 2..225, HF slow 1..224. */
    @Test
    void centerCropOffsetsDifferBetweenPipelines() throws Exception {
        int h = 224, w = 227;
        byte[] px = new byte[h * w];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) px[y * w + x] = (byte) x;
        Path f = write("cols.png", h, w, 1, px);
        byte[] openai = new ImagePreprocessor(PreprocessorConfig.clip(224), Pipeline.OPENAI).cropRgb8(f);
        byte[] hf = new ImagePreprocessor(PreprocessorConfig.clip(224), Pipeline.HF).cropRgb8(f);
        assertEquals(2, openai[0] & 0xFF, "torchvision: round(3/2) = 2");
        assertEquals(1, hf[0] & 0xFF, "HF: floor(3/2) = 1");
        assertEquals(225, openai[(223) * 3] & 0xFF);
        // diff 1, 5: equal offsets (0 and 2)
        for (int[] c : new int[][] {{225, 0}, {229, 2}, {231, 4}}) {
            byte[] p2 = new byte[h * c[0]];
            for (int y = 0; y < h; y++) for (int x = 0; x < c[0]; x++) p2[y * c[0] + x] = (byte) x;
            Path g = write("cols" + c[0] + ".png", h, c[0], 1, p2);
            assertEquals(c[1], new ImagePreprocessor(PreprocessorConfig.clip(224), Pipeline.OPENAI).cropRgb8(g)[0] & 0xFF, "torchvision, width " + c[0]);
        }
    }

    /** Output sizes of the short-side resize: W' = s, H' = int(s * H / W) (and the crop of a tall image is vertical). */
    @Test
    void shortestEdgeResizeAndSmallImagesArePadded() throws Exception {
        assertEquals(2, ImagePreprocessor.torchvisionOffset(227, 224));
        assertEquals(37, ImagePreprocessor.torchvisionOffset(298, 224));
        assertEquals(-3, ImagePreprocessor.torchvisionOffset(218, 224), "pad (224-218)//2 = 3 first");
        // no resize, crop larger than the image: zero padding around it
        PreprocessorConfig d = PreprocessorConfig.clip(8);
        PreprocessorConfig noResize = new PreprocessorConfig(true, false, 8, 0, 0, 3, true, 8, 8, true, 1.0 / 255, false, d.mean(), d.std());
        byte[] px = new byte[5 * 5 * 3];
        Arrays.fill(px, (byte) 200);
        Path f = write("small.png", 5, 5, 3, px);
        int[] tv = ints(new ImagePreprocessor(noResize, Pipeline.OPENAI).cropRgb8(f));
        int[] hf = ints(new ImagePreprocessor(noResize, Pipeline.HF).cropRgb8(f));
        // torchvision pads 3//2 = 1 before, HF ceil(3/2) = 2 before
        assertEquals(0, tv[0]);
        assertEquals(200, tv[(1 * 8 + 1) * 3]);
        assertEquals(0, hf[(1 * 8 + 1) * 3]);
        assertEquals(200, hf[(2 * 8 + 2) * 3]);
        // a tall 7x9 (w x h) image upscaled to short side 224 -> 224 x 288, crop centered vertically
        Path tall = write("tall.png", 9, 7, 3, new byte[9 * 7 * 3]);
        try (Tensor t = new ImagePreprocessor(PreprocessorConfig.clip(224), Pipeline.HF).preprocess(List.of(tall))) {
            assertEquals("[1, 3, 224, 224]", Arrays.toString(t.shape()));
        }
    }

    /** RGBA: OpenAI resizes premultiplied and then drops alpha; HF drops alpha first (spec 02 §2.5). */
    @Test
    void rgbaDiffersWhereAlphaIsBelow255() throws Exception {
        int h = 10, w = 10;
        byte[] px = new byte[h * w * 4];
        for (int i = 0; i < h * w; i++) {
            px[4 * i] = px[4 * i + 1] = px[4 * i + 2] = (byte) 255;
            px[4 * i + 3] = (byte) (i % w < 5 ? 0 : 255);  // left half transparent white
        }
        Path f = write("rgba.png", h, w, 4, px);
        PreprocessorConfig cfg = noNormalize(6);
        int[] oa = ints(new ImagePreprocessor(cfg, Pipeline.OPENAI).cropRgb8(f));
        int[] hf = ints(new ImagePreprocessor(cfg, Pipeline.HF).cropRgb8(f));
        assertEquals(255, hf[0], "HF: raw RGB of transparent pixels is kept");
        assertEquals(0, oa[0], "OpenAI: premultiplied, alpha 0 gives black");
        assertEquals(255, oa[(6 - 1) * 3], "opaque side unchanged");
    }

    /** 16-bit gray: clipped to 8 bits (Pillow convert); gray is replicated into R, G, B. */
    @Test
    void sixteenBitGrayIsClippedAndGrayIsReplicated() throws Exception {
        int h = 4, w = 4;
        short[] v = new short[h * w];
        for (int i = 0; i < v.length; i++) v[i] = (short) (i * 40);  // 0..600
        Path f = tmp.resolve("g16.png");
        try (ShortPointer data = new ShortPointer(v); Mat m = new Mat(h, w, CV_16UC1, data)) {
            assertTrue(imwrite(f.toString(), m));
        }
        PreprocessorConfig d = PreprocessorConfig.clip(4);
        PreprocessorConfig same = new PreprocessorConfig(true, true, 4, 0, 0, 3, true, 4, 4, true, 1.0 / 255, false, d.mean(), d.std());
        int[] got = ints(new ImagePreprocessor(same, Pipeline.HF).cropRgb8(f));
        for (int i = 0; i < h * w; i++) {
            int want = Math.min(255, i * 40);
            assertEquals(want, got[3 * i]);
            assertEquals(want, got[3 * i + 2]);
        }
        Path tif = tmp.resolve("g16.tif");
        try (ShortPointer data = new ShortPointer(v); Mat m = new Mat(h, w, CV_16UC1, data)) {
            assertTrue(imwrite(tif.toString(), m));
        }
        assertEquals(Arrays.toString(got), Arrays.toString(ints(new ImagePreprocessor(same, Pipeline.HF).cropRgb8(tif))));
    }

    /** --16bit minmax stretches a 16-bit image's own range to 0..255; clip (Pillow) saturates it. */
    @Test
    void sixteenBitMinMaxStretchesTheRange() throws Exception {
        short[] v = {1000, 1500, 2000, 3000};
        Path f = tmp.resolve("ct.png");
        try (ShortPointer data = new ShortPointer(v); Mat m = new Mat(2, 2, CV_16UC1, data)) {
            assertTrue(imwrite(f.toString(), m));
        }
        PreprocessorConfig d = PreprocessorConfig.clip(2);
        PreprocessorConfig same = new PreprocessorConfig(true, true, 2, 0, 0, 3, true, 2, 2, true, 1.0 / 255, false, d.mean(), d.std());
        int[] clip = ints(new ImagePreprocessor(same, Pipeline.HF).cropRgb8(f));
        int[] mm = ints(new ImagePreprocessor(same, Pipeline.HF, ImageDecoder.SixteenBit.MINMAX).cropRgb8(f));
        for (int i = 0; i < 4; i++) assertEquals(255, clip[3 * i]);
        // OpenCV convertTo: round(v * scale + shift) in float32 (127.5 lands either side), saturated
        double scale = 255.0 / 2000, shift = -1000 * scale;
        for (int i = 0; i < 4; i++) assertEquals(v[i] * scale + shift, mm[3 * i], 0.5 + 1e-3, "pixel " + i);
        assertEquals(0, mm[0]);
        assertEquals(255, mm[9]);
    }

    /** A palette PNG (written by hand): OpenAI resizes it with nearest neighbour, HF converts and resizes bicubically. */
    @Test
    void paletteImagesUseNearestInTheOpenAiPipeline() throws Exception {
        int w = 6, h = 4;
        byte[] idx = new byte[h * (w + 1)];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) idx[y * (w + 1) + 1 + x] = (byte) ((x + y) % 3);
        Path f = tmp.resolve("pal.png");
        Files.write(f, palettePng(w, h, new int[] {0xFF0000, 0x00FF00, 0x0000FF}, idx));
        assertTrue(ImageDecoder.decode(f).palette());
        PreprocessorConfig d = PreprocessorConfig.clip(8);
        PreprocessorConfig cfg = new PreprocessorConfig(true, true, 8, 0, 0, 3, true, 8, 12, true, 1.0 / 255, false, d.mean(), d.std());
        int[] oa = ints(new ImagePreprocessor(cfg, Pipeline.OPENAI).cropRgb8(f));
        for (int p = 0; p < 8 * 12; p++) {  // nearest keeps pure palette colours
            int nonZero = (oa[3 * p] > 0 ? 1 : 0) + (oa[3 * p + 1] > 0 ? 1 : 0) + (oa[3 * p + 2] > 0 ? 1 : 0);
            assertEquals(1, nonZero, "pixel " + p + " is one palette colour");
        }
        int[] hf = ints(new ImagePreprocessor(cfg, Pipeline.HF).cropRgb8(f));
        assertFalse(Arrays.equals(oa, hf), "bicubic mixes colours");
    }

    private static byte[] palettePng(int w, int h, int[] rgb, byte[] filteredRows) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10});
        chunk(out, "IHDR", ByteBuffer.allocate(13).putInt(w).putInt(h).put((byte) 8).put((byte) 3).put((byte) 0).put((byte) 0).put((byte) 0).array());
        ByteBuffer plte = ByteBuffer.allocate(rgb.length * 3);
        for (int c : rgb) plte.put((byte) (c >> 16)).put((byte) (c >> 8)).put((byte) c);
        chunk(out, "PLTE", plte.array());
        Deflater def = new Deflater();
        def.setInput(filteredRows);
        def.finish();
        byte[] z = new byte[1024];
        int n = def.deflate(z);
        chunk(out, "IDAT", Arrays.copyOf(z, n));
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) throws Exception {
        out.write(ByteBuffer.allocate(4).putInt(data.length).array());
        byte[] t = type.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        out.write(t);
        out.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.write(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    @Test
    void jpegDecodes() throws Exception {
        byte[] px = new byte[16 * 16 * 3];
        Arrays.fill(px, (byte) 128);
        Path f = write("x.jpg", 16, 16, 3, px);
        int[] got = ints(new ImagePreprocessor(noNormalize(16), Pipeline.OPENAI).cropRgb8(f));
        for (int v : got) assertTrue(Math.abs(v - 128) <= 1, "flat grey survives JPEG: " + v);
    }

    @Test
    void unreadableFilesAreNamedAndCanBeSkipped() throws Exception {
        byte[] px = new byte[8 * 8 * 3];
        Path good = write("good.png", 8, 8, 3, px);
        byte[] png = Files.readAllBytes(good);
        Path truncated = Files.write(tmp.resolve("truncated.png"), Arrays.copyOf(png, png.length / 2));
        Path garbage = Files.write(tmp.resolve("garbage.jpg"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        Path empty = Files.write(tmp.resolve("empty.png"), new byte[0]);
        Path dir = Files.createDirectories(tmp.resolve("adir.png"));
        Path missing = tmp.resolve("missing.png");
        ImagePreprocessor pre = new ImagePreprocessor(PreprocessorConfig.clip(8), Pipeline.HF);
        long before = NativeMemory.liveBytes();
        for (Path bad : List.of(truncated, garbage, empty, dir, missing)) {
            ImageDecodeException e = assertThrows(ImageDecodeException.class, () -> pre.preprocess(List.of(good, bad)));
            assertTrue(e.getMessage().startsWith(bad.toString()), e.getMessage());
        }
        try (ImagePreprocessor.Result r = pre.preprocess(List.of(garbage, good, empty, good), true)) {
            assertEquals(List.of(good, good), r.kept());
            assertEquals(List.of(garbage, empty), List.copyOf(r.skipped().keySet()));
            assertEquals(2, r.pixels().dim(0));
        }
        assertEquals(before, NativeMemory.liveBytes(), "no native memory left behind");
    }
}
