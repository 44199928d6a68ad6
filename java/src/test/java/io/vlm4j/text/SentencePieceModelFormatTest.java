package io.vlm4j.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.vlm4j.io.ModelFormatException;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Malformed or unsupported spiece.model files are refused with a ModelFormatException that names file and place. */
class SentencePieceModelFormatTest {
    static final Path NAME = Path.of("some/dir/spiece.model");

    static byte[] real() throws Exception {
        return Files.readAllBytes(SentencePieceTokenizerTest.resource("spiece.model"));
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }

    static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) b[i] = (byte) v[i];
        return b;
    }

    static byte[] varint(long v) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while ((v & ~0x7FL) != 0) {
            out.write((int) (v & 0x7F) | 0x80);
            v >>>= 7;
        }
        out.write((int) v);
        return out.toByteArray();
    }

    static byte[] tag(int field, int wire) {
        return varint((long) field << 3 | wire);
    }

    /** A trainer_spec {model_type: type}; appended to a model it overrides the type, as protobuf merges messages. */
    static byte[] modelType(int type) {
        byte[] spec = concat(tag(3, 0), varint(type));
        return concat(tag(2, 2), varint(spec.length), spec);
    }

    static String refused(byte[] data, String... mustContain) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SentencePieceModel.parse(data, NAME));
        String m = e.getMessage();
        assertTrue(m.startsWith(NAME.toString() + ": "), m);
        for (String s : mustContain) assertTrue(m.contains(s), "'" + m + "' should contain '" + s + "'");
        return m;
    }

    @Test
    void emptyAndNonProtobufFilesAreRefused() {
        refused(new byte[0], "empty");
        refused(bytes(0x12, 0x02, 0x18, 0x01), "no pieces");  // only a trainer_spec
        refused("hello world, not a model\n".getBytes(), "");
    }

    @Test
    void truncatedFilesNameTheOffset() throws Exception {
        byte[] real = real();
        refused(Arrays.copyOf(real, real.length / 2), "malformed protobuf at byte offset", "runs past the end");
        refused(Arrays.copyOf(real, 3), "malformed protobuf at byte offset 1", "runs past the end");
        refused(bytes(0x0A, 0x80), "malformed protobuf at byte offset 1", "varint runs past the end");
        refused(bytes(0x0A, 0x05, 0x0A), "malformed protobuf at byte offset 1", "length 5 runs past the end");
    }

    @Test
    void badVarintsAndWireTypesAreRefused() {
        byte[] eleven = new byte[12];
        Arrays.fill(eleven, (byte) 0xFF);
        eleven[0] = 0x0A;
        refused(eleven, "byte offset 1", "longer than 10 bytes");
        refused(concat(bytes(0x20, 0x01), tag(20, 7), bytes(0)), "byte offset 2", "wire type 7 of field 20");
        refused(bytes(0x0F, 0x00), "byte offset 0", "pieces (field 1) has wire type 7");
        refused(bytes(0x00, 0x00), "byte offset 0", "field number 0");
        refused(concat(tag(9, 3), tag(1, 0), varint(1)), "group of field 9 has no end");
    }

    @Test
    void otherModelTypesAreRefusedByName() throws Exception {
        byte[] real = real();
        refused(concat(real, modelType(2)), "model_type BPE is not supported", "UNIGRAM");
        refused(concat(real, modelType(3)), "model_type WORD");
        refused(concat(real, modelType(4)), "model_type CHAR");
        refused(concat(real, modelType(9)), "model_type unknown (9)");
        SentencePieceModel.parse(concat(real, modelType(1)), NAME);  // UNIGRAM written out is fine
    }

    @Test
    void badPiecesAreRefused() {
        byte[] noType = concat(tag(1, 2), varint(4), tag(1, 2), varint(2), "ab".getBytes());
        refused(noType, "no UNKNOWN piece");
        byte[] piece = concat(tag(1, 2), varint(1), "a".getBytes(), tag(3, 0), varint(9));
        refused(concat(tag(1, 2), varint(piece.length), piece), "piece 0 has unknown type 9");
        byte[] text = concat(tag(1, 2), varint(1), "a".getBytes());
        byte[] twice = concat(tag(1, 2), varint(text.length), text, tag(1, 2), varint(text.length), text);
        refused(twice, "piece 'a' is defined twice");
        byte[] byteNoFallback = concat(tag(1, 2), varint(6), "<0x41>".getBytes(), tag(3, 0), varint(6));
        refused(concat(tag(1, 2), varint(byteNoFallback.length), byteNoFallback), "byte_fallback is false");
        refused(concat(tag(1, 2), varint(2), tag(2, 5), bytes(0, 0)), "fixed32 runs past the end");
    }

    @Test
    void unknownFieldsOfEveryWireTypeAreSkipped() throws Exception {
        byte[] extra = concat(tag(99, 0), varint(-1), tag(98, 1), new byte[8], tag(97, 5), new byte[4],
                tag(96, 3), tag(1, 0), varint(7), tag(2, 2), varint(3), bytes(1, 2, 3), tag(96, 4),
                tag(95, 2), varint(2), bytes(0xFF, 0xFF));
        SentencePieceModel plain = SentencePieceModel.parse(real(), NAME);
        SentencePieceModel withExtra = SentencePieceModel.parse(concat(real(), extra), NAME);
        String text = "A chest X-ray showing ｐｎｅｕｍｏｎｉａ, café 肺炎.";
        assertArrayEquals(plain.encodeIds(text), withExtra.encodeIds(text));
        refused(concat(real(), tag(96, 3), tag(1, 0), varint(7), tag(95, 4)), "group of field 96 ends with field 95");
    }

    /** Random damage anywhere in the file: either a ModelFormatException or a model that still encodes. */
    @Test
    void randomDamageNeverGivesAnotherException(@TempDir Path dir) throws Exception {
        byte[] real = real();
        Random rnd = new Random(1234);
        int refusedCount = 0;
        for (int trial = 0; trial < 300; trial++) {
            byte[] d = trial % 3 == 0 ? Arrays.copyOf(real, rnd.nextInt(real.length)) : real.clone();
            int flips = 1 + rnd.nextInt(4);
            for (int f = 0; f < flips && d.length > 0; f++) {
                // half the damage in the pieces and specs (first 12 KB), half in the charsmap
                int at = rnd.nextBoolean() ? rnd.nextInt(Math.min(d.length, 12_000)) : rnd.nextInt(d.length);
                d[at] = (byte) rnd.nextInt(256);
            }
            try {
                SentencePieceModel m = SentencePieceModel.parse(d, NAME);
                m.encode("A Chest X-ray: ｆｕｌｌ width, café, 肺炎 😀\t end  ");
            } catch (ModelFormatException e) {
                refusedCount++;
                assertTrue(e.getMessage().startsWith(NAME + ": "), e.getMessage());
            } catch (RuntimeException e) {
                fail("trial " + trial + ": " + e, e);
            }
        }
        assertTrue(refusedCount > 50, "only " + refusedCount + " of 300 damaged files were refused");
        Path file = dir.resolve("spiece.model");
        Files.write(file, Arrays.copyOf(real, 1000));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Tokenizers.load(dir));
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
    }
}
