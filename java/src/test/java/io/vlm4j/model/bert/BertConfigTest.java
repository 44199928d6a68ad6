package io.vlm4j.model.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.io.ModelFormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BertConfigTest {
    @TempDir
    Path dir;

    private Path write(String json) throws IOException {
        return Files.writeString(dir.resolve("config.json"), json);
    }

    private String rejected(String json) throws IOException {
        Path file = write(json);
        String m = assertThrows(ModelFormatException.class, () -> BertConfig.load(dir)).getMessage();
        assertTrue(m.startsWith(file.toString()), m);
        return m;
    }

    @Test
    void readsAnHfBertConfig() throws IOException {
        write("""
                {"architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": 100, "hidden_size": 32,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 48,
                 "max_position_embeddings": 40, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
                 "pad_token_id": 0, "hidden_dropout_prob": 0.1, "position_embedding_type": "absolute",
                 "transformers_version": "5.17.0"}""");
        assertEquals(new BertConfig(100, 32, 2, 4, 48, 40, 2, 1e-12, "gelu", 0), BertConfig.load(dir));
        assertEquals(8, BertConfig.load(dir.resolve("config.json")).headDim());
    }

    @Test
    void missingFieldsTakeTheTransformersDefaults() throws IOException {
        write("{\"hidden_act\": \"gelu_new\"}");
        BertConfig d = BertConfig.defaults();
        assertEquals(new BertConfig(d.vocab(), d.hidden(), d.layers(), d.heads(), d.intermediate(), d.maxPositions(),
                d.typeVocab(), d.layerNormEps(), "gelu_new", d.padTokenId()), BertConfig.load(dir));
        assertEquals(new BertConfig(30522, 768, 12, 12, 3072, 512, 2, 1e-12, "gelu", 0), BertConfig.biomedBertBase());
    }

    @Test
    void badFieldsAreErrorsNamingFileAndField() throws IOException {
        assertTrue(rejected("{\"hidden_size\": \"32\"}").contains("hidden_size must be an integer"));
        assertTrue(rejected("{\"layer_norm_eps\": true}").contains("layer_norm_eps must be a finite number"));
        assertTrue(rejected("{\"pad_token_id\": null}").contains("pad_token_id must be an integer"));
        assertTrue(rejected("{\"hidden_size\": 30, \"num_attention_heads\": 4}")
                .contains("hidden_size 30 is not a multiple of num_attention_heads 4"));
        assertTrue(rejected("{\"hidden_act\": \"relu\"}").contains("hidden_act 'relu'"));
        assertTrue(rejected("{\"vocab_size\": 10, \"pad_token_id\": 10}").contains("pad_token_id 10"));
        assertTrue(rejected("{\"model_type\": \"roberta\"}").contains("model_type is 'roberta'"));
        assertTrue(rejected("{\"position_embedding_type\": \"relative_key\"}").contains("relative_key"));
        assertTrue(rejected("{\"is_decoder\": true}").contains("is_decoder"));
        assertTrue(rejected("[1, 2]").contains("JSON object"));
    }

    @Test
    void recordChecksItsArguments() {
        String m = assertThrows(IllegalArgumentException.class,
                () -> new BertConfig(10, 24, 0, 3, 40, 16, 2, 1e-12, "gelu", 0)).getMessage();
        assertTrue(m.contains("num_hidden_layers must be positive"), m);
        m = assertThrows(IllegalArgumentException.class,
                () -> new BertConfig(10, 24, 1, 3, 40, 16, 2, 0, "gelu", 0)).getMessage();
        assertTrue(m.contains("layer_norm_eps"), m);
    }
}
