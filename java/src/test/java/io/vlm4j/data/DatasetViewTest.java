package io.vlm4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.io.LargeBytes;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** split / subsample / kShot / filter: determinism, stratification, nesting, and their errors. */
class DatasetViewTest {
    /**
     * 100 items of 1x1 gray pixels (value = index): classes a (50 items), b (30), c (15), d (5); items 0..79 train,
     * 80..99 test.
     */
    static ImageDataset synthetic() {
        int n = 100;
        int[] labels = new int[n];
        byte[] splits = new byte[n];
        byte[] px = new byte[n];
        for (int i = 0; i < n; i++) {
            int r = i % 20;
            labels[i] = r < 10 ? 0 : r < 16 ? 1 : r < 19 ? 2 : 3;
            splits[i] = SourceDataset.splitCode(i < 80 ? "train" : "test");
            px[i] = (byte) i;
        }
        return new ArrayDataset("synthetic", "synthetic", List.of("a", "b", "c", "d"), false, labels, splits,
                List.of(new ArrayDataset.Block(LargeBytes.wrap(px), 0, n, 1, 1, 1)));
    }

    private static int[] sources(ImageDataset d) {
        return IntStream.range(0, d.size()).map(d::sourceIndex).toArray();
    }

    private static int[] perClass(ImageDataset d) {
        int[] c = new int[d.numClasses()];
        for (int i = 0; i < d.size(); i++) c[d.label(i)]++;
        return c;
    }

    @Test
    void kShotIsDeterministicPerSeedAndNested() throws Exception {
        ImageDataset d = synthetic();
        ImageDataset five = d.kShot(5, 7);
        assertArrayEquals(new int[] {5, 5, 5, 5}, perClass(five));
        assertArrayEquals(sources(five), sources(synthetic().kShot(5, 7)), "same seed, same items");
        assertTrue(!Arrays.equals(sources(five), sources(d.kShot(5, 8))), "another seed, other items");
        int[] three = sources(d.kShot(3, 7));
        for (int s : three) assertTrue(Arrays.binarySearch(sources(five), s) >= 0, "kShot(3) is inside kShot(5) for one seed");
        int[] idx = sources(five);
        for (int j = 1; j < idx.length; j++) assertTrue(idx[j - 1] < idx[j], "source order kept");
        for (int i = 0; i < five.size(); i++) assertEquals(five.sourceIndex(i), five.image(i).pixels()[0] & 0xFF, "images follow");
        assertEquals("kShot(5, seed 7)", five.view());
        assertEquals("synthetic", five.identity());
        assertSame(d, five.source());
    }

    @Test
    void kShotNamesTheClassThatIsTooSmall() {
        ImageDataset test = synthetic().split("test");
        assertEquals(20, test.size());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> test.kShot(2, 0));
        assertEquals("synthetic [split(test)]: class 'd' (3) has 1 items, fewer than k = 2", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> test.kShot(0, 0));
    }

    @Test
    void subsampleIsStratifiedAndDeterministic() {
        ImageDataset d = synthetic();
        ImageDataset s = d.subsample(10, 3);
        assertEquals(10, s.size());
        assertArrayEquals(new int[] {5, 3, 2, 0}, perClass(s), "shares 5, 3, 1.5, 0.5: equal remainders go to the lower class");
        assertArrayEquals(sources(s), sources(d.subsample(10, 3)));
        assertNotEquals(Arrays.toString(sources(s)), Arrays.toString(sources(d.subsample(10, 4))));
        assertArrayEquals(new int[] {25, 15, 8, 2}, perClass(d.subsample(50, 0)), "shares 25, 15, 7.5, 2.5: ties to the lower class");
        assertEquals(100, d.subsample(100, 1).size());
        assertEquals(0, d.subsample(0, 1).size());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.subsample(101, 1));
        assertEquals("synthetic: cannot subsample 101 of 100 items", e.getMessage());
    }

    @Test
    void viewsOfViewsMapToTheSourceAndSplitsAreChecked() {
        ImageDataset d = synthetic();
        ImageDataset train = d.split("train");
        assertEquals(80, train.size());
        assertEquals(List.of("train"), train.splits());
        ImageDataset k = train.kShot(2, 0);
        for (int i = 0; i < k.size(); i++) assertTrue(k.sourceIndex(i) < 80);
        assertEquals("split(train) | kShot(2, seed 0)", k.view());
        ImageDataset even = k.filter(i -> k.sourceIndex(i) % 2 == 0);
        for (int i = 0; i < even.size(); i++) assertEquals(0, even.sourceIndex(i) % 2);
        assertEquals("split(train) | kShot(2, seed 0) | filter", even.view());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.split("val"));
        assertEquals("synthetic: no items in split 'val' (splits: train, test)", e.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> train.label(80));
    }

    @Test
    void multiLabelSubsampleIsUniformAndKShotIsRefused() {
        int n = 40;
        int[] labels = new int[n * 2];
        for (int i = 0; i < n; i++) labels[i * 2 + (i % 2)] = 1;
        ImageDataset d = new ArrayDataset("ml", "ml", List.of("x", "y"), true, labels, new byte[n],
                List.of(new ArrayDataset.Block(LargeBytes.wrap(new byte[n]), 0, n, 1, 1, 1)));
        assertArrayEquals(sources(d.subsample(7, 2)), sources(d.subsample(7, 2)));
        assertEquals(7, d.subsample(7, 2).size());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.kShot(1, 0));
        assertTrue(e.getMessage().contains("kShot needs a single-label dataset"), e.getMessage());
    }
}
