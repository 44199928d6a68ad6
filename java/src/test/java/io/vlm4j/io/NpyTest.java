package io.vlm4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.testing.Golden;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyTest {
    @TempDir
    Path tmp;

    /** A .npy file with any version, header text (padded to 64 like numpy) and data. */
    static Path writeNpy(Path file, int major, String header, byte[] data) throws IOException {
        byte[] text = header.getBytes(major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        int prefix = major == 1 ? 10 : 12;
        int total = (prefix + text.length + 1 + 63) / 64 * 64;
        ByteBuffer b = ByteBuffer.allocate(total + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
        if (major == 1) b.putShort((short) (total - prefix));
        else b.putInt(total - prefix);
        b.put(text);
        while (b.position() < total - 1) b.put((byte) ' ');
        b.put((byte) '\n').put(data);
        return Files.write(file, b.array());
    }

    private static byte[] littleEndian(int bytesPerValue, long... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * bytesPerValue).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            switch (bytesPerValue) {
                case 1 -> b.put((byte) v);
                case 2 -> b.putShort((short) v);
                case 8 -> b.putLong(v);
                default -> throw new IllegalArgumentException();
            }
        }
        return b.array();
    }

    @Test
    void float32RoundTripInNumpysLayout() throws Exception {
        Path f = tmp.resolve("a.npy");
        float[] v = {1.5f, -2f, Float.NaN, Float.MIN_VALUE, 0f, 1e30f};
        try (Tensor t = Tensor.of(v, 2, 3)) {
            Npy.write(f, t);
        }
        byte[] bytes = Files.readAllBytes(f);
        String header = new String(bytes, 10, bytes.length - 10 - 24, StandardCharsets.ISO_8859_1);
        assertEquals("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", header.strip());
        assertEquals(0, (bytes.length - 24) % 64, "data aligned to 64 bytes as numpy writes it");
        try (Tensor back = Npy.readFloat32(f)) {
            assertEquals(DType.F32, back.dtype());
            assertArrayEquals(new long[] {2, 3}, back.shape());
            assertArrayEquals(v, back.toFloatArray());
        }
    }

    @Test
    void int32RoundTripAndOneDimensionalAndScalarShapes() throws Exception {
        Path f = tmp.resolve("ids.npy");
        try (Tensor t = Tensor.ofInts(new int[] {49406, 320, 49407, Integer.MIN_VALUE}, 4)) {
            Npy.write(f, t);
        }
        assertEquals("<i4", Npy.readHeader(f).descr());
        try (Tensor back = Npy.readInt32(f)) {
            assertEquals(DType.I32, back.dtype());
            assertArrayEquals(new long[] {4}, back.shape());
            assertArrayEquals(new int[] {49406, 320, 49407, Integer.MIN_VALUE}, back.toIntArray());
        }
        try (Tensor s = Tensor.of(new float[] {4.6052f})) {
            Npy.write(f, s);
        }
        try (Tensor back = Npy.readFloat32(f)) {
            assertEquals(0, back.rank());
            assertArrayEquals(new float[] {4.6052f}, back.toFloatArray());
        }
    }

    @Test
    void writeIsAtomicAndLeavesNoTemporaryFile() throws Exception {
        Path f = tmp.resolve("out.npy");
        Files.writeString(f, "old content");
        try (Tensor t = Tensor.of(new float[] {1, 2}, 2)) {
            Npy.write(f, t);
        }
        try (Stream<Path> files = Files.list(tmp)) {
            assertEquals(List.of(f), files.toList());
        }
        // A failing body leaves the old file and no temporary behind.
        assertThrows(IOException.class, () -> AtomicFiles.write(f, out -> {
            out.write(1);
            throw new IOException("disk full");
        }));
        try (Stream<Path> files = Files.list(tmp); Tensor back = Npy.readFloat32(f)) {
            assertEquals(List.of(f), files.toList());
            assertArrayEquals(new float[] {1, 2}, back.toFloatArray());
        }
        assertThrows(java.nio.file.NoSuchFileException.class, () -> AtomicFiles.write(tmp.resolve("no/such/dir.npy"), out -> { }));
        try (Tensor h = Tensor.allocate(DType.F16, 2)) {
            assertThrows(IllegalArgumentException.class, () -> Npy.write(tmp.resolve("h.npy"), h));
        }
    }

    @Test
    void float64AndFloat16ConvertToFloat32() throws Exception {
        ByteBuffer d = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putDouble(1.0 / 3).putDouble(-2.5).putDouble(1e300);
        Path f8 = writeNpy(tmp.resolve("d.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", d.array());
        try (Tensor t = Npy.readFloat32(f8)) {
            assertArrayEquals(new float[] {(float) (1.0 / 3), -2.5f, Float.POSITIVE_INFINITY}, t.toFloatArray());
        }
        Path f2 = writeNpy(tmp.resolve("h.npy"), 2, "{'descr': '=f2', 'fortran_order': False, 'shape': (1, 3), }",
                littleEndian(2, 0x3C00, 0xC100, 0x0001));
        try (Tensor t = Npy.readFloat32(f2)) {
            assertArrayEquals(new long[] {1, 3}, t.shape());
            assertArrayEquals(new float[] {1f, -2.5f, 0x1p-24f}, t.toFloatArray());
        }
    }

    @Test
    void int64Uint8AndBoolWidenToInt32() throws Exception {
        Path i8 = writeNpy(tmp.resolve("l.npy"), 3, "{\"descr\": \"<i8\", \"fortran_order\": False, \"shape\": (2L, 2L)}",
                littleEndian(8, 49406, -1, Integer.MAX_VALUE, Integer.MIN_VALUE));
        try (Tensor t = Npy.readInt32(i8)) {
            assertArrayEquals(new int[] {49406, -1, Integer.MAX_VALUE, Integer.MIN_VALUE}, t.toIntArray());
        }
        Path u1 = writeNpy(tmp.resolve("u.npy"), 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }",
                littleEndian(1, 0, 200, 255));
        try (Tensor t = Npy.readInt32(u1)) {
            assertArrayEquals(new int[] {0, 200, 255}, t.toIntArray());
        }
        Path b1 = writeNpy(tmp.resolve("b.npy"), 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }",
                littleEndian(1, 1, 0));
        try (Tensor t = Npy.readInt32(b1)) {
            assertArrayEquals(new int[] {1, 0}, t.toIntArray());
        }
    }

    @Test
    void emptyArray() throws Exception {
        Path f = writeNpy(tmp.resolve("e.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", new byte[0]);
        NpyHeader h = Npy.readHeader(f);
        assertEquals(0, h.numel());
        assertEquals(128, h.dataOffset(), "10-byte prefix + 60-byte dict + newline, padded to 64");
        try (Tensor t = Npy.readFloat32(f)) {
            assertArrayEquals(new long[] {0, 5}, t.shape());
        }
    }

    @Test
    void goldenFixturesMatchTheirRawCopies() throws Exception {
        Path fx = Golden.dir().resolve("fixtures/tiny");
        try (Tensor pixels = Npy.readFloat32(fx.resolve("pixel_values.npy"))) {
            assertArrayEquals(new long[] {4, 3, 32, 32}, pixels.shape());
            ByteBuffer raw = ByteBuffer.wrap(Files.readAllBytes(fx.resolve("pixel_values.bin"))).order(ByteOrder.LITTLE_ENDIAN);
            float[] expected = new float[raw.remaining() / 4];
            raw.asFloatBuffer().get(expected);
            assertArrayEquals(expected, pixels.toFloatArray());
        }
        try (Tensor ids = Npy.readInt32(fx.resolve("input_ids.npy"))) {
            assertArrayEquals(new long[] {5, 77}, ids.shape());
            ByteBuffer raw = ByteBuffer.wrap(Files.readAllBytes(fx.resolve("input_ids.bin"))).order(ByteOrder.LITTLE_ENDIAN);
            int[] expected = new int[raw.remaining() / 4];
            raw.asIntBuffer().get(expected);
            assertArrayEquals(expected, ids.toIntArray());
            assertEquals(49406, ids.toIntArray()[0], "every prompt starts with <sot>");
        }
    }
}
