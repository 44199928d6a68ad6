package io.vlm4j.cli;

import io.vlm4j.lora.LoraWeights;
import io.vlm4j.model.clip.ClipModel;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --adapter DIR}: a PEFT LoRA adapter merged into the model's weights before it runs. */
final class AdapterOption {
    @Option(names = "--adapter", paramLabel = "DIR", description = "PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors), "
            + "merged into the weights before running")
    Path adapter;

    /** Merges the adapter, if one was given, into {@code clip}. */
    void apply(ClipModel clip) throws IOException {
        if (adapter == null) return;
        try (LoraWeights w = LoraWeights.load(adapter, clip.linears())) {
            clip.mergeLora(w);
        }
    }
}
