package io.vlm4j.text;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Cleaning steps on their own (expected values from ftfy 6 / CPython's html.unescape behaviour, spec 03 §3). */
class TextCleanerTest {
    @Test
    void mojibakeWholeAndEmbedded() {
        assertEquals("\"mojibake quotes\"", TextCleaner.fixText("\u00e2\u20ac\u0153mojibake quotes\u00e2\u20ac\u009d"));
        assertEquals("caf\u00e9", TextCleaner.fixText("caf\u00c3\u00a9"), "UTF-8 read as Latin-1");
        assertEquals("the caf\u00e9 \u4e2d\u6587", TextCleaner.fixText("the caf\u00c3\u00a9 \u4e2d\u6587"), "embedded in non-Latin text");
        assertEquals("na\u00efve", TextCleaner.fixText("na\u00efve"), "plain Latin-1 text is left alone");
        assertEquals("Fu\u00df\u2026", TextCleaner.fixText("Fu\u00df\u2026"), "valid UTF-8 bytes for an unlikely letter: left alone");
    }

    @Test
    void widthsLigaturesQuotesControlsAndEntities() {
        assertEquals("ABC scan", TextCleaner.fixText("\uff21\uff22\uff23 scan"));
        assertEquals("file", TextCleaner.fixText("\ufb01le"));
        assertEquals("it's \"x\"", TextCleaner.fixText("it\u2019s \u201cx\u201d"));
        assertEquals("bom", TextCleaner.fixText("\ufeffbom"));
        assertEquals("& double", TextCleaner.clean("&amp;amp; double"));
        assertEquals("fish & chips", TextCleaner.clean("fish &amp chips"), "legacy entity without ';'");
        assertEquals("&unknown; entity", TextCleaner.clean("&unknown; entity"));
        assertEquals("<b>x</b> & y", TextCleaner.htmlUnescape("<b>x</b> &amp; y"));
        assertEquals("\u20ac \ufffd", TextCleaner.htmlUnescape("&#128; &#0;"), "C1 numeric references read as cp1252, 0 -> U+FFFD");
        assertEquals("a b", TextCleaner.clean("  a \u2028\u00a0 b \n"));
    }
}
