"""Export a CLIP tower with seeded random weights twice: as an HF directory (config.json + model.safetensors)
for vlm4j and as an ONNX graph for ONNX Runtime, so that both engines run the same work on the same weights.

Requirements (offline tools, never needed by CI): python 3.11, torch==2.13.0 (CPU), transformers, onnx, safetensors.
    python benchmarks/onnx/export_clip.py --arch ViT-B/16 --out /tmp/vlm4j-onnx
Writes OUT/<arch-slug>/{config.json, model.safetensors, vision.onnx, text.onnx}.
"""
import argparse
import os

import torch
from transformers import CLIPConfig, CLIPModel

ARCHS = {  # spec 01 §1.4
    "ViT-B/32": dict(image_size=224, patch_size=32, width=768, layers=12, heads=12, t_width=512, t_layers=12, t_heads=8, embed=512),
    "ViT-B/16": dict(image_size=224, patch_size=16, width=768, layers=12, heads=12, t_width=512, t_layers=12, t_heads=8, embed=512),
    "ViT-L/14": dict(image_size=224, patch_size=14, width=1024, layers=24, heads=16, t_width=768, t_layers=12, t_heads=12, embed=768),
    # a few hundred KB: the CI smoke of the ONNX Runtime comparison (benchmarks/src/test/resources/onnx-tiny, image tower)
    "tiny": dict(image_size=32, patch_size=8, width=64, layers=2, heads=4, t_width=32, t_layers=1, t_heads=2, embed=32, vocab=1000),
}


class VisionEmbeds(torch.nn.Module):
    def __init__(self, clip):
        super().__init__()
        self.clip = clip

    def forward(self, pixel_values):
        # Spelled out: in recent transformers get_image_features returns a ModelOutput, not the embedding tensor.
        pooled = self.clip.vision_model(pixel_values=pixel_values).pooler_output
        return self.clip.visual_projection(pooled)


class TextEmbeds(torch.nn.Module):
    def __init__(self, clip):
        super().__init__()
        self.clip = clip

    def forward(self, input_ids):
        pooled = self.clip.text_model(input_ids=input_ids).pooler_output
        return self.clip.text_projection(pooled)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="ViT-B/16", choices=sorted(ARCHS))
    ap.add_argument("--out", default="/tmp/vlm4j-onnx")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    s = ARCHS[a.arch]
    torch.manual_seed(a.seed)
    cfg = CLIPConfig(
        vision_config=dict(image_size=s["image_size"], patch_size=s["patch_size"], hidden_size=s["width"],
                           intermediate_size=4 * s["width"], num_hidden_layers=s["layers"],
                           num_attention_heads=s["heads"], hidden_act="quick_gelu", projection_dim=s["embed"]),
        text_config=dict(hidden_size=s["t_width"], intermediate_size=4 * s["t_width"], num_hidden_layers=s["t_layers"],
                         num_attention_heads=s["t_heads"], hidden_act="quick_gelu", projection_dim=s["embed"],
                         vocab_size=s.get("vocab", 49408),
                         **({} if "vocab" not in s else dict(bos_token_id=s["vocab"] - 2, eos_token_id=s["vocab"] - 1, pad_token_id=1))),
        projection_dim=s["embed"])
    model = CLIPModel(cfg).eval()
    out = os.path.join(a.out, a.arch.replace("/", "-"))
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    px = torch.randn(1, 3, s["image_size"], s["image_size"])
    ids = torch.zeros(1, 77, dtype=torch.int64)
    v = s.get("vocab", 49408)
    ids[0, 0], ids[0, 1:6], ids[0, 6] = v - 2, torch.arange(100, 105), v - 1
    with torch.no_grad():
        torch.onnx.export(VisionEmbeds(model), (px,), os.path.join(out, "vision.onnx"), input_names=["pixel_values"],
                          output_names=["image_embeds"], dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                          opset_version=17, dynamo=False)
        torch.onnx.export(TextEmbeds(model), (ids,), os.path.join(out, "text.onnx"), input_names=["input_ids"],
                          output_names=["text_embeds"], dynamic_axes={"input_ids": {0: "batch"}, "text_embeds": {0: "batch"}},
                          opset_version=17, dynamo=False)
    print("wrote", out)


if __name__ == "__main__":
    main()
