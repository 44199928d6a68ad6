package io.vlm4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class GemmShapeTest {
    @Test
    void vitB16IsTheFourLinearLayersAtBatch256() {
        List<GemmShape> s = GemmShape.parseList("vit-b16");
        assertEquals(List.of(new GemmShape(50432, 2304, 768), new GemmShape(50432, 768, 768),
                new GemmShape(50432, 3072, 768), new GemmShape(50432, 768, 3072)), s);
        assertEquals(s, GemmShape.parseList(" ViT-B16 "));
        assertEquals(2.0 * 50432 * 2304 * 768, s.get(0).flops());
    }

    @Test
    void explicitLists() {
        assertEquals(List.of(new GemmShape(50432, 768, 3072), new GemmShape(1, 2, 3)),
                GemmShape.parseList("50432x768x3072, 1X2x3"));
        assertEquals("7x8x9", GemmShape.parseList("7x8x9").get(0).toString());
    }

    @Test
    void badInputNamesTheEntry() {
        for (String bad : new String[] {"", " ", "12x3", "1x2x3x4", "axbxc", "0x1x1", "1x-2x3", "1x2x3,", "1x2x3,,4x5x6",
                "99999999999x1x1", "vit-b32"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GemmShape.parseList(bad), bad);
            assertTrue(e.getMessage().startsWith("--shapes"), e.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GemmShape.parseList("64x64x64,64x6y4"));
        assertTrue(e.getMessage().contains("'64x6y4'"), e.getMessage());
    }
}
