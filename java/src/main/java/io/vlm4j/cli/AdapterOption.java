package io.vlm4j.cli;

import io.vlm4j.io.WeightStore;
import io.vlm4j.lora.LoraWeights;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.train.LoraTrainer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --adapter DIR}: a PEFT LoRA adapter merged into the model's weights before it runs. */
final class AdapterOption {
    @Option(names = "--adapter", paramLabel = "DIR", description = "PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors), "
            + "merged into the weights before running (with the logit scale/bias of a contrastive run, logits.safetensors, when there)")
    Path adapter;

    /**
     * Merges the adapter, if one was given, into {@code clip}, and takes the logit scale (and SigLIP bias) a contrastive
     * run trained when the adapter directory has them ({@link LoraTrainer#LOGITS_FILE}).
     */
    void apply(ClipModel clip) throws IOException {
        if (adapter == null) return;
        try (LoraWeights w = LoraWeights.load(adapter, clip.linears())) {
            clip.mergeLora(w);
        }
        Path logits = adapter.resolve(LoraTrainer.LOGITS_FILE);
        if (Files.isRegularFile(logits)) {
            try (WeightStore store = WeightStore.open(logits); Tensor scale = store.load("logit_scale", 1)) {
                float bias = clip.logitBias();
                if (store.contains("logit_bias")) {
                    try (Tensor b = store.load("logit_bias", 1)) {
                        bias = b.toFloatArray()[0];
                    }
                }
                clip.logits(scale.toFloatArray()[0], bias);
            }
        }
    }
}
