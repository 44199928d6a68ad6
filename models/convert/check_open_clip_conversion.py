#!/usr/bin/env python3
"""End-to-end check of open_clip_to_vlm4j.py and of vlm4j's direct open_clip loading, on a tiny random open_clip CLIP.

    python models/convert/check_open_clip_conversion.py --jar java/target/vlm4j.jar [--work DIR]
        [--open-clip-src DIR] [--fixture-out DIR]

1. Builds open_clip.CLIP(embed_dim=24, vision 32 px / patch 8 / width 32 / 2 layers, text context 16 / vocab 1000 /
   width 32 / 2 layers, quick_gelu=True), re-initialised with seeded values of O(1) effect (non-zero biases, LayerNorm
   gammas away from 1) so that a wrong slice or transpose cannot hide, and saves open_clip_pytorch_model.bin +
   open_clip_config.json as the hub does.
2. Converts it with open_clip_to_vlm4j.py (HF directory) and also writes open_clip_model.safetensors with the
   open_clip names (the layout vlm4j loads directly).
3. Compares, against open_clip's encode_image / encode_text (float32, CPU): transformers' CLIPModel on the converted
   directory, and `java -jar JAR encode-images/encode-texts` on the converted and on the open_clip directory.
4. Converts a BiomedCLIP-named state dict (keep-names mode) and checks which keys were dropped.

open_clip: `import open_clip` when installed. Its package imports torchvision at import time (transform.py,
utils.py) for image transforms the model itself never calls; where torchvision is not installed,
--open-clip-src DIR (a directory holding the open_clip package, e.g. an unpacked open_clip_torch wheel) loads
open_clip's model code without the package __init__, with a stand-in for the one torchvision name utils.py
imports (FrozenBatchNorm2d, used only to freeze ResNet batch norms).

--fixture-out DIR also writes the committed Java fixture: the same model with its weights rounded to float16
(stored F16 in open_clip_model.safetensors) and open_clip's outputs for those weights.
"""
import argparse
import importlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import open_clip_to_vlm4j as conv  # noqa: E402

VISION_CFG = {"image_size": 32, "layers": 2, "width": 32, "patch_size": 8, "head_width": 8}
TEXT_CFG = {"context_length": 16, "vocab_size": 1000, "width": 32, "heads": 4, "layers": 2}
EMBED_DIM = 24
OPEN_CLIP_DESC = "?"
FIXTURE_README = """# open_clip fixture (tiny plain CLIP)

Written by `models/convert/check_open_clip_conversion.py --fixture-out java/src/test/resources/openclip/tiny`
(run from the repository root; it deletes and rewrites this folder). CI never runs it.

Versions: Python {python}, torch {torch}, numpy {numpy}, {open_clip}. CPU, float32, one thread.

- `open_clip_config.json`: `model_cfg` = embed_dim 24, quick_gelu true, vision_cfg {vision}, text_cfg {text}
  (open_clip defaults otherwise: mlp_ratio 4, argmax text pooling), `preprocess_cfg` OpenAI mean/std.
- `open_clip_model.safetensors`: `open_clip.model.CLIP(...).state_dict()` with open_clip names, stored F16. The
  model was re-initialised with seeded values (weights N(0, 1/fan-in), embeddings std 0.5, biases and LayerNorm
  offsets std 0.1, logit_scale 2.5) and its parameters rounded to float16 before the outputs were computed, so
  the F16 file holds exactly the weights that produced them.
- `pixel_values.npy` float32 [3, 3, 32, 32] N(0, 1); `input_ids.npy` int32 [4, 16]: 998 (start), random ids, 999
  (end, the largest id, where open_clip pools), zero padding.
- `image_embeds.npy` [3, 24] = `model.encode_image(pixels)`, `text_embeds.npy` [4, 24] = `model.encode_text(ids)`,
  float32, not normalized.
"""


def import_open_clip(src):
    try:
        import open_clip
        return open_clip.model, "open_clip " + getattr(open_clip, "__version__", "?") + " (installed)"
    except ImportError as e:
        if src is None:
            raise SystemExit(f"open_clip cannot be imported ({e}); pass --open-clip-src DIR") from e
    pkg_dir = os.path.join(src, "open_clip")
    import transformers  # noqa: F401  before the stand-in: transformers probes for torchvision when imported
    stub = []
    if "torchvision" not in sys.modules:
        try:
            import torchvision  # noqa: F401
        except ImportError:
            tv, ops, misc = (types.ModuleType(n) for n in ("torchvision", "torchvision.ops", "torchvision.ops.misc"))

            class FrozenBatchNorm2d(torch.nn.Module):  # never instantiated for a ViT CLIP
                def __init__(self, *a, **k):
                    raise RuntimeError("torchvision stand-in: FrozenBatchNorm2d is not available")

            misc.FrozenBatchNorm2d = FrozenBatchNorm2d
            tv.ops, ops.misc = ops, misc
            stub = {"torchvision": tv, "torchvision.ops": ops, "torchvision.ops.misc": misc}
            sys.modules.update(stub)
    pkg = types.ModuleType("open_clip")
    pkg.__path__ = [pkg_dir]  # a package without running its __init__ (which imports the transforms)
    sys.modules["open_clip"] = pkg
    version = {}
    with open(os.path.join(pkg_dir, "version.py")) as f:
        exec(f.read(), version)
    model = importlib.import_module("open_clip.model")
    for name in stub:  # utils.py holds its one name; nothing else may mistake the stand-in for torchvision
        del sys.modules[name]
    return model, f"open_clip {version.get('__version__', '?')} (model code from {src}" + (
        ", torchvision stand-in)" if stub else ")")


def tiny_model(oc_model, seed=0):
    torch.manual_seed(seed)
    model = oc_model.CLIP(embed_dim=EMBED_DIM, vision_cfg=dict(VISION_CFG), text_cfg=dict(TEXT_CFG), quick_gelu=True)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale":
                p.fill_(2.5)
            elif ".ln_" in name or name.startswith("ln_") or "visual.ln_" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif "embedding" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                # visual.proj and text_projection are [D, E], used as x @ proj; everything else is [out, in, ...]
                fan_in = p.shape[0] if name in ("visual.proj", "text_projection") else p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))
    return model.eval()


def inputs(seed=1):
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randn(3, 3, VISION_CFG["image_size"], VISION_CFG["image_size"], generator=g)
    n, ctx, vocab = 4, TEXT_CFG["context_length"], TEXT_CFG["vocab_size"]
    ids = torch.zeros(n, ctx, dtype=torch.long)  # open_clip pads with 0
    for row in range(n):
        eot = 2 + (row * 5) % (ctx - 2)
        ids[row, 0] = vocab - 2  # <|startoftext|>
        ids[row, 1:eot] = torch.randint(1, vocab - 2, (eot - 1,), generator=g)
        ids[row, eot] = vocab - 1  # <|endoftext|>, the largest id: open_clip pools at argmax
    return pixels, ids


def open_clip_config():
    return {"model_cfg": {"embed_dim": EMBED_DIM, "quick_gelu": True, "vision_cfg": VISION_CFG, "text_cfg": TEXT_CFG},
            "preprocess_cfg": {"mean": conv.OPENAI_MEAN, "std": conv.OPENAI_STD, "interpolation": "bicubic",
                               "resize_mode": "shortest"}}


def reference(model, pixels, ids):
    with torch.no_grad():
        return model.encode_image(pixels).numpy(), model.encode_text(ids).numpy()


def hf_outputs(hf_dir, pixels, ids):
    from transformers import CLIPModel
    m = CLIPModel.from_pretrained(hf_dir, attn_implementation="eager").eval()
    with torch.no_grad():
        img = m.visual_projection(m.vision_model(pixel_values=pixels).pooler_output)
        txt = m.text_projection(m.text_model(input_ids=ids).pooler_output)
    return img.numpy(), txt.numpy()


def vlm4j_outputs(jar, model_dir, work):
    px, ids = os.path.join(work, "pixel_values.npy"), os.path.join(work, "input_ids.npy")
    outs = []
    for cmd, flag, inp in (("encode-images", "--pixels", px), ("encode-texts", "--ids", ids)):
        out = os.path.join(work, f"{os.path.basename(model_dir)}_{cmd}.npy")
        subprocess.run(["java", "-jar", jar, cmd, "--model", model_dir, flag, inp, "--out", out], check=True,
                       stdout=subprocess.DEVNULL)
        outs.append(np.load(out))
    return outs


def check_keep_names(work):
    """A BiomedCLIP-named state dict keeps its names minus the pooler and position_ids."""
    src = os.path.join(work, "biomed_src")
    os.makedirs(src, exist_ok=True)
    sd = {"visual.trunk.cls_token": torch.zeros(1, 1, 8), "visual.head.proj.weight": torch.zeros(4, 8),
          "text.transformer.embeddings.word_embeddings.weight": torch.zeros(10, 8),
          "text.transformer.embeddings.position_ids": torch.arange(12).reshape(1, 12),
          "text.transformer.pooler.dense.weight": torch.zeros(8, 8), "text.transformer.pooler.dense.bias": torch.zeros(8),
          "text.proj.0.weight": torch.zeros(6, 8), "logit_scale": torch.tensor(4.6)}
    torch.save(sd, os.path.join(src, "open_clip_pytorch_model.bin"))
    cfg = {"model_cfg": {"embed_dim": 4, "vision_cfg": {"timm_model_name": "vit_base_patch16_224", "image_size": 224},
                         "text_cfg": {"hf_model_name": "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract",
                                      "hf_proj_type": "mlp", "hf_pooler_type": "cls_last_hidden_state_pooler",
                                      "context_length": 256}}}
    with open(os.path.join(src, "open_clip_config.json"), "w") as f:
        json.dump(cfg, f)
    out = os.path.join(work, "biomed_out")
    conv.convert(src, out, force=True)
    got = conv.read_safetensors(os.path.join(out, "model.safetensors"))
    want = {"visual.trunk.cls_token", "visual.head.proj.weight", "text.transformer.embeddings.word_embeddings.weight",
            "text.proj.0.weight", "logit_scale"}
    assert set(got) == want, sorted(got)
    assert os.path.isfile(os.path.join(out, "open_clip_config.json"))
    print("keep-names (BiomedCLIP-style): ok, pooler and position_ids dropped")


def write_fixture(oc_model, out, work):
    """open_clip outputs for the tiny model with float16-rounded weights, stored F16 (about 150 KB)."""
    model = tiny_model(oc_model, seed=7)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    pixels, ids = inputs(seed=8)
    img, txt = reference(model, pixels, ids)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    sd = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    conv.write_safetensors(os.path.join(out, "open_clip_model.safetensors"), sd)
    with open(os.path.join(out, "open_clip_config.json"), "w") as f:
        json.dump(open_clip_config(), f, indent=2)
        f.write("\n")
    np.save(os.path.join(out, "pixel_values.npy"), pixels.numpy())
    np.save(os.path.join(out, "input_ids.npy"), ids.numpy().astype(np.int32))
    np.save(os.path.join(out, "image_embeds.npy"), img)
    np.save(os.path.join(out, "text_embeds.npy"), txt)
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(FIXTURE_README.format(python=platform.python_version(), torch=torch.__version__, numpy=np.__version__,
                                      open_clip=OPEN_CLIP_DESC, vision=json.dumps(VISION_CFG), text=json.dumps(TEXT_CFG)))
    print(f"fixture written to {out}: " + ", ".join(f"{n} {os.path.getsize(os.path.join(out, n))} B" for n in sorted(os.listdir(out))))


def max_err(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jar", help="vlm4j.jar; without it only open_clip vs transformers is compared")
    ap.add_argument("--work", help="working directory (default: a temporary one, deleted)")
    ap.add_argument("--open-clip-src", help="directory holding the open_clip package (unpacked wheel)")
    ap.add_argument("--fixture-out", help="also write the Java test fixture here")
    ap.add_argument("--tol", type=float, default=1e-4, help="max abs error allowed (embeddings are O(1))")
    a = ap.parse_args()
    torch.set_num_threads(1)
    global OPEN_CLIP_DESC
    oc_model, oc_desc = import_open_clip(a.open_clip_src)
    OPEN_CLIP_DESC = oc_desc
    print(f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, {oc_desc}")
    work = a.work or tempfile.mkdtemp(prefix="open_clip_check_")
    os.makedirs(work, exist_ok=True)

    model = tiny_model(oc_model)
    pixels, ids = inputs()
    np.save(os.path.join(work, "pixel_values.npy"), pixels.numpy())
    np.save(os.path.join(work, "input_ids.npy"), ids.numpy().astype(np.int32))
    ref_img, ref_txt = reference(model, pixels, ids)
    print(f"open_clip reference: image {ref_img.shape} max |x| {np.abs(ref_img).max():.3f}, "
          f"text {ref_txt.shape} max |x| {np.abs(ref_txt).max():.3f}")

    src = os.path.join(work, "open_clip_src")
    os.makedirs(src, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(src, "open_clip_pytorch_model.bin"))
    with open(os.path.join(src, "open_clip_config.json"), "w") as f:
        json.dump(open_clip_config(), f, indent=2)
    hf_dir = os.path.join(work, "converted_hf")
    conv.convert(src, hf_dir, force=True)
    oc_dir = os.path.join(work, "open_clip_dir")
    os.makedirs(oc_dir, exist_ok=True)
    shutil.copyfile(os.path.join(src, "open_clip_config.json"), os.path.join(oc_dir, "open_clip_config.json"))
    conv.write_safetensors(os.path.join(oc_dir, "open_clip_model.safetensors"), model.state_dict())

    # the same conversion from open_clip_model.safetensors (read without the safetensors package) must match
    hf_st = os.path.join(work, "converted_hf_from_safetensors")
    conv.convert(oc_dir, hf_st, force=True)
    a_sd = conv.read_safetensors(os.path.join(hf_dir, "model.safetensors"))
    b_sd = conv.read_safetensors(os.path.join(hf_st, "model.safetensors"))
    assert list(a_sd) == list(b_sd) and all(torch.equal(a_sd[k], b_sd[k]) for k in a_sd), "bin and safetensors differ"
    print("conversion from .safetensors: identical to the conversion from .bin")

    rows = [("transformers CLIPModel, converted dir", hf_outputs(hf_dir, pixels, ids))]
    if a.jar:
        rows.append(("vlm4j, converted HF dir", vlm4j_outputs(a.jar, hf_dir, work)))
        rows.append(("vlm4j, open_clip dir (direct)", vlm4j_outputs(a.jar, oc_dir, work)))
    ok = True
    print(f"{'vs open_clip encode_image/encode_text':42s} {'image max|err|':>15s} {'text max|err|':>15s}")
    for name, (img, txt) in rows:
        ei, et = max_err(ref_img, img), max_err(ref_txt, txt)
        ok &= ei <= a.tol and et <= a.tol
        print(f"{name:42s} {ei:15.3e} {et:15.3e}")
    check_keep_names(work)
    if a.fixture_out:
        write_fixture(oc_model, a.fixture_out, work)
    if not a.work:
        shutil.rmtree(work)
    print("PASS" if ok else f"FAIL (tolerance {a.tol})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
