package io.vlm4j.io;

import static io.vlm4j.testing.DatasetFiles.bytes;
import static io.vlm4j.testing.DatasetFiles.int64s;
import static io.vlm4j.testing.DatasetFiles.npy;
import static io.vlm4j.testing.DatasetFiles.zip;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.testing.DatasetFiles.Entry;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** .npz archives as numpy writes them (stored, deflated, zip64), uint8/int64 reads, and every way they break. */
class NpzTest {
    @TempDir
    Path tmp;

    private static final byte[] PIXELS = bytes(0, 1, 2, 127, 128, 255);
    private static final long[] LABELS = {3, 0, -7};

    private Path archive(String name, boolean deflate, boolean zip64) throws IOException {
        byte[] z = zip(List.of(new Entry("x.npy", npy("|u1", new long[] {2, 3}, PIXELS), deflate),
                new Entry("y.npy", npy("<i8", new long[] {3, 1}, int64s(LABELS)), deflate)), zip64);
        return Files.write(tmp.resolve(name), z);
    }

    @Test
    void storedDeflatedAndZip64ArchivesReadTheSame() throws Exception {
        for (boolean deflate : new boolean[] {false, true}) {
            for (boolean zip64 : new boolean[] {false, true}) {
                String what = (deflate ? "deflated" : "stored") + (zip64 ? " zip64" : "");
                try (Npz z = Npz.open(archive(what.replace(' ', '-') + ".npz", deflate, zip64))) {
                    assertEquals(List.of("x", "y"), z.arrays(), what);
                    Npz.Uint8Array x = z.readUint8("x");
                    assertArrayEquals(new long[] {2, 3}, x.header().shape(), what);
                    byte[] got = new byte[6];
                    x.data().get(0, got, 0, 6);
                    assertArrayEquals(PIXELS, got, what);
                    assertArrayEquals(LABELS, z.readInt64("y"), what);
                    assertEquals("<i8", z.header("y").descr(), what);
                }
            }
        }
    }

    @Test
    void missingArrayNamesTheArchiveAndWhatItHas() throws Exception {
        try (Npz z = Npz.open(archive("a.npz", false, false))) {
            IOException e = assertThrows(IOException.class, () -> z.readInt64("train_labels"));
            assertTrue(e.getMessage().contains("a.npz: no array 'train_labels' (arrays: x, y)"), e.getMessage());
            e = assertThrows(IOException.class, () -> z.readUint8("y"));
            assertTrue(e.getMessage().contains("a.npz:y.npy: expected a uint8 array, found dtype '<i8'"), e.getMessage());
        }
    }

    @Test
    void truncatedOrNonZipFilesAreNamed() throws Exception {
        Path good = archive("g.npz", true, false);
        byte[] all = Files.readAllBytes(good);
        Path cut = Files.write(tmp.resolve("cut.npz"), Arrays.copyOf(all, all.length / 2));
        IOException e = assertThrows(IOException.class, () -> Npz.open(cut));
        assertTrue(e.getMessage().startsWith(cut + ": ") && e.getMessage().contains("no end-of-central-directory"), e.getMessage());
        Path text = Files.writeString(tmp.resolve("t.npz"), "this is not a zip file at all, just some text");
        e = assertThrows(IOException.class, () -> Npz.open(text));
        assertTrue(e.getMessage().contains("not a zip (.npz) archive"), e.getMessage());
        Path tiny = Files.write(tmp.resolve("tiny.npz"), new byte[] {1, 2, 3});
        e = assertThrows(IOException.class, () -> Npz.open(tiny));
        assertTrue(e.getMessage().contains("too short"), e.getMessage());
    }

    @Test
    void corruptDeflatedDataFailsItsCrcOrInflate() throws Exception {
        Path good = archive("c.npz", true, false);
        byte[] all = Files.readAllBytes(good);
        // flip a byte in the middle of the first entry's compressed data (after its 30 + 5 byte local header)
        all[40] ^= 0x55;
        Path bad = Files.write(tmp.resolve("bad.npz"), all);
        try (Npz z = Npz.open(bad)) {
            IOException e = assertThrows(IOException.class, () -> z.readUint8("x"));
            assertTrue(e.getMessage().contains("bad.npz:x.npy: "), e.getMessage());
        }
    }

    @Test
    void entryWhoseArrayIsShorterThanItsHeaderSaysIsTruncated() throws Exception {
        byte[] npy = npy("|u1", new long[] {2, 3}, bytes(1, 2, 3));  // 3 of 6 bytes
        for (boolean deflate : new boolean[] {false, true}) {
            Path f = Files.write(tmp.resolve("short" + deflate + ".npz"), zip(List.of(new Entry("x.npy", npy, deflate)), false));
            try (Npz z = Npz.open(f)) {
                IOException e = assertThrows(IOException.class, () -> z.readUint8("x"));
                assertTrue(e.getMessage().contains(":x.npy: truncated"), e.getMessage());
            }
        }
    }

    @Test
    void plainNpyUint8AndInt64() throws Exception {
        Path u = Files.write(tmp.resolve("u.npy"), npy("|u1", new long[] {6}, PIXELS));
        assertArrayEquals(PIXELS, Npy.readUint8(u));
        Path l = Files.write(tmp.resolve("l.npy"), npy("<i8", new long[] {3}, int64s(LABELS)));
        assertArrayEquals(LABELS, Npy.readInt64(l));
        assertArrayEquals(new long[] {0, 1, 2, 127, 128, 255}, Npy.readInt64(u), "uint8 widens unsigned");
        IOException e = assertThrows(IOException.class, () -> Npy.readUint8(l));
        assertTrue(e.getMessage().contains("expected a uint8 array"), e.getMessage());
    }

    @Test
    void largeBytesSpillToAMappedTemporaryFileBeyondTheHeapLimit() throws Exception {
        byte[] data = new byte[100_000];
        for (int i = 0; i < data.length; i++) data[i] = (byte) (i * 31);
        for (long limit : new long[] {1 << 20, 10}) {
            LargeBytes b = LargeBytes.read(tmp.resolve("n"), new ByteArrayInputStream(data), data.length, limit);
            byte[] back = new byte[data.length];
            b.get(0, back, 0, back.length);
            assertArrayEquals(data, back, "heap limit " + limit);
            assertEquals(data[99_999], b.get(99_999));
        }
        IOException e = assertThrows(IOException.class,
                () -> LargeBytes.read(tmp.resolve("n"), new ByteArrayInputStream(data), data.length + 1, 10));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        try (var files = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().endsWith(".bytes") && p.toString().contains("vlm4j-")
                    && isRecent(p)), "temporary files are deleted");
        }
    }

    private static boolean isRecent(Path p) {
        try {
            return Files.getLastModifiedTime(p).toMillis() > System.currentTimeMillis() - 5_000;
        } catch (IOException e) {
            return false;
        }
    }
}
