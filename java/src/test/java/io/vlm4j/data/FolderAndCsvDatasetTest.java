package io.vlm4j.data;

import static io.vlm4j.testing.DatasetFiles.png;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Image folders (flat and with splits) and CSV manifests with tiny PNGs, their class names, and their errors. */
class FolderAndCsvDatasetTest {
    @TempDir
    Path tmp;

    @Test
    void folderPerClassSortedByName() throws Exception {
        Path root = tmp.resolve("flat");
        png(root.resolve("pneumonia/b.png"), 4, 4, 200);
        png(root.resolve("pneumonia/a.png"), 4, 4, 201);
        png(root.resolve("normal/x.PNG"), 4, 4, 10);
        png(root.resolve("normal/sub/y.png"), 4, 4, 11);
        Files.writeString(root.resolve("normal/notes.txt"), "not an image");
        png(root.resolve("normal/.hidden.png"), 4, 4, 0);
        Files.writeString(root.resolve("README"), "top-level files are ignored");
        ImageDataset d = Datasets.open(root.toString());
        assertEquals(List.of("normal", "pneumonia"), d.classNames());
        assertEquals("flat", d.name());
        assertEquals(4, d.size());
        assertTrue(d.fileBased());
        assertEquals(List.of(""), d.splits());
        assertEquals(root.resolve("normal/sub/y.png"), d.file(0).orElseThrow());
        assertEquals(root.resolve("normal/x.PNG"), d.file(1).orElseThrow());
        assertEquals(root.resolve("pneumonia/a.png"), d.file(2).orElseThrow());
        assertArrayEquals(new int[] {0, 0, 1, 1}, new int[] {d.label(0), d.label(1), d.label(2), d.label(3)});
        assertEquals(201, d.image(2).pixels()[0] & 0xFF);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.split("test"));
        assertTrue(e.getMessage().contains("no items in split 'test' (the dataset has no splits)"), e.getMessage());
        // the identity changes when a file does
        String before = d.identity();
        png(root.resolve("pneumonia/a.png"), 5, 4, 201);
        assertNotEquals(before, Datasets.open("folder:" + root).identity());
    }

    @Test
    void folderWithSplitsAndClassNamesFile() throws Exception {
        Path root = tmp.resolve("split");
        png(root.resolve("train/cat/1.png"), 3, 3, 1);
        png(root.resolve("train/dog/1.png"), 3, 3, 2);
        png(root.resolve("train/dog/2.jpg"), 3, 3, 3);
        png(root.resolve("test/cat/1.bmp"), 3, 3, 4);
        png(root.resolve("validation/dog/9.tif"), 3, 3, 5);
        ImageDataset d = Datasets.open("folder:" + root);
        assertEquals(List.of("cat", "dog"), d.classNames());
        assertEquals(List.of("train", "val", "test"), d.splits());
        assertEquals(5, d.size());
        assertEquals(1, d.split("val").size());
        assertEquals(1, d.split("val").label(0));
        Path names = Files.writeString(tmp.resolve("names.txt"), "dog\r\ncat\r\nbird\r\n\r\n");
        ImageDataset n = Datasets.open("folder:" + root, Optional.of(names));
        assertEquals(List.of("dog", "cat", "bird"), n.classNames());
        assertEquals(1, n.split("test").label(0));
        Path short1 = Files.writeString(tmp.resolve("short.txt"), "dog\n");
        IOException e = assertThrows(IOException.class, () -> Datasets.open("folder:" + root, Optional.of(short1)));
        assertTrue(e.getMessage().contains("class folder 'cat' is not in the class names (dog)"), e.getMessage());
    }

    @Test
    void folderErrors() throws Exception {
        Path mixed = tmp.resolve("mixed");
        png(mixed.resolve("train/a/1.png"), 2, 2, 0);
        png(mixed.resolve("b/1.png"), 2, 2, 0);
        IOException e = assertThrows(IOException.class, () -> Datasets.open("folder:" + mixed));
        assertTrue(e.getMessage().contains("mixes split folders (train) and class folders (b)"), e.getMessage());
        Path empty = tmp.resolve("emptyclass");
        png(empty.resolve("a/1.png"), 2, 2, 0);
        Files.createDirectories(empty.resolve("b"));
        e = assertThrows(IOException.class, () -> Datasets.open("folder:" + empty));
        assertTrue(e.getMessage().startsWith(empty.resolve("b") + ": class folder holds no image file"), e.getMessage());
        Path none = Files.createDirectories(tmp.resolve("none"));
        e = assertThrows(IOException.class, () -> Datasets.open("folder:" + none));
        assertTrue(e.getMessage().contains("holds no class folders"), e.getMessage());
        e = assertThrows(IOException.class, () -> Datasets.open("folder:" + tmp.resolve("absent")));
        assertTrue(e.getMessage().contains("absent"), e.getMessage());
        Path dup = Files.writeString(tmp.resolve("dup.txt"), "a\nb\na\n");
        e = assertThrows(IOException.class, () -> Datasets.open("folder:" + empty, Optional.of(dup)));
        assertTrue(e.getMessage().equals(dup + ": line 3: class 'a' appears twice"), e.getMessage());
        Path other = Files.writeString(tmp.resolve("data.bin"), "x");
        e = assertThrows(IOException.class, () -> Datasets.open(other.toString()));
        assertTrue(e.getMessage().contains("cannot tell the dataset format"), e.getMessage());
    }

    @Test
    void csvWithNamesIndicesSplitsQuotingAndAbsolutePaths() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("csv"));
        png(dir.resolve("img/a.png"), 3, 3, 1);
        png(dir.resolve("img/b, with comma.png"), 3, 3, 2);
        Path abs = png(tmp.resolve("elsewhere/c.png"), 3, 3, 3);
        Path csv = Files.writeString(dir.resolve("labels.csv"), "\uFEFFpath,label,split,patient\r\n"
                + "img/a.png,normal,train,p1\r\n"
                + "\"img/b, with comma.png\",pneumonia,TEST,\"p\"\"2\"\"\"\r\n"
                + abs + ",normal,,p3\r\n");
        ImageDataset d = Datasets.open(csv.toString());
        assertEquals("labels", d.name());
        assertEquals(List.of("normal", "pneumonia"), d.classNames());
        assertEquals(3, d.size());
        assertEquals(dir.resolve("img/b, with comma.png"), d.file(1).orElseThrow());
        assertEquals(List.of("", "train", "test"), d.splits());
        assertEquals("test", d.split(1));
        assertEquals(1, d.label(1));
        assertEquals(abs, d.file(2).orElseThrow());

        Path idx = Files.writeString(dir.resolve("idx.csv"), "label,path\n2,img/a.png\n0,img/a.png\n");
        ImageDataset n = Datasets.open("csv:" + idx);
        assertEquals(List.of("0", "1", "2"), n.classNames(), "integer labels: classes 0..max");
        Path names = Files.writeString(dir.resolve("names.txt"), "normal\npneumonia\nother\n");
        ImageDataset named = Datasets.open("csv:" + idx, Optional.of(names));
        assertEquals("other", named.classNames().get(named.label(0)));
    }

    @Test
    void csvMultiLabel() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("ml"));
        png(dir.resolve("a.png"), 3, 3, 1);
        Path csv = Files.writeString(dir.resolve("m.csv"), "path,labels\na.png,effusion|mass\na.png,\na.png,mass\n");
        ImageDataset d = Datasets.open(csv.toString());
        assertTrue(d.multiLabel());
        assertEquals(List.of("effusion", "mass"), d.classNames());
        assertArrayEquals(new int[] {1, 1}, d.labelVector(0));
        assertArrayEquals(new int[] {0, 0}, d.labelVector(1));
        assertArrayEquals(new int[] {0, 1}, d.labelVector(2));
        Path bar = Files.writeString(dir.resolve("bar.csv"), "path,label\na.png,0|2\na.png,1\n");
        ImageDataset b = Datasets.open(bar.toString());
        assertTrue(b.multiLabel(), "a '|' makes the set multi-label");
        assertArrayEquals(new int[] {1, 0, 1}, b.labelVector(0));
    }

    private String csvError(String text) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("bad"));
        if (!Files.exists(dir.resolve("a.png"))) png(dir.resolve("a.png"), 2, 2, 0);
        Path csv = Files.writeString(dir.resolve("bad.csv"), text);
        Path names = Files.writeString(dir.resolve("names.txt"), "normal\npneumonia\n");
        boolean withNames = text.contains("#names");
        IOException e = assertThrows(IOException.class,
                () -> Datasets.open("csv:" + csv, withNames ? Optional.of(names) : Optional.empty()));
        assertTrue(e.getMessage().startsWith(csv + ": "), e.getMessage());
        return e.getMessage().substring(csv.toString().length() + 2);
    }

    @Test
    void csvErrorsNameTheLine() throws Exception {
        assertEquals("line 3: unknown class 'pneumonai' (classes: normal, pneumonia)",
                csvError("path,label,x\na.png,normal,#names\na.png,pneumonai,\n"));
        assertEquals("line 2: label index 2 is out of range (2 classes: 0..1)", csvError("path,label,x\na.png,2,#names\n"));
        assertEquals("line 2: no such image file 'b.png' (" + tmp.resolve("bad/b.png") + ")", csvError("path,label\nb.png,0\n"));
        assertEquals("line 3: 3 fields, the header has 2", csvError("path,label\na.png,0\na.png,0,extra\n"));
        assertEquals("line 2: empty label", csvError("path,label\na.png,\n"));
        assertEquals("line 2: unknown split 'holdout' (train, val, test or empty)", csvError("path,label,split\na.png,0,holdout\n"));
        assertTrue(csvError("file,label\na.png,0\n").startsWith("header must name the columns path and label"));
        assertEquals("has a header but no rows", csvError("path,label\n"));
        assertEquals("empty file (expected a header path,label[,split])", csvError(""));
        assertEquals("line 2: quoted field is not closed before the end of the file", csvError("path,label\n\"a.png,0\n"));
        assertEquals("line 2: text after a closing quote", csvError("path,label\n\"a.png\"x,0\n"));
        assertEquals("line 2: quote inside an unquoted field (quote the whole field and double the quote)",
                csvError("path,label\na\"b.png,0\n"));
        assertEquals("header names column 'path' twice", csvError("path,label,Path\na.png,0,a.png\n"));
        assertEquals("line 2: empty class name in 'a||b'", csvError("path,labels\na.png,a||b\n"));
    }

    @Test
    void csvParserFollowsRfc4180() throws Exception {
        Path f = tmp.resolve("x.csv");
        List<Csv.Row> rows = Csv.parse(f, "a,\"b\nc\",\"d\"\"e\"\r\n,,\nlast");
        assertEquals(3, rows.size());
        assertEquals(List.of("a", "b\nc", "d\"e"), rows.get(0).fields());
        assertEquals(1, rows.get(0).line());
        assertEquals(List.of("", "", ""), rows.get(1).fields());
        assertEquals(3, rows.get(1).line(), "the quoted line break counts");
        assertEquals(List.of("last"), rows.get(2).fields());
        assertEquals(List.of(""), Csv.parse(f, "\"\"").get(0).fields());
        assertEquals(0, Csv.parse(f, "").size());
    }
}
