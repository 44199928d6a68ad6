#!/usr/bin/env python3
"""Writes the PEFT reference values that BertPeftFixtureTest (io.vlm4j.model.bert) compares against: LoRA on the BERT
text tower of a BiomedCLIP-shaped model (open_clip HFTextEncoder: BertModel, CLS of last_hidden_state, MLP
projection), wrapped by the real PEFT under open_clip's CustomTextCLIP module paths (text.transformer.encoder.layer.i.
attention.self.query, ..., text.proj.0, text.proj.2), with non-zero B: unmerged and merged outputs and the gradients of
every lora_A / lora_B for a simple loss.

The base tower is the one of models/scripts/make_bert_tower_fixture.py, loaded from the committed
java/src/test/resources/bert/model.safetensors (run that script first if it is missing); its classes and helpers from
make_lora_fixtures.py are imported, not copied.

Requirements: Python 3.10+, torch (CPU is enough), transformers, peft, safetensors and numpy (tested with torch
2.13.0+cpu, transformers 5.17.0, peft 0.21.0, safetensors 0.8.0, numpy 2.4.6). Only needed to regenerate the committed
files; the Java build never runs Python.

Run from the repository root (a few seconds, mostly imports):
    python models/scripts/make_bert_lora_fixture.py

Writes java/src/test/resources/bert_lora/ (README.md there describes every file).
"""
import json
import os
import platform
import shutil
import sys

import numpy as np
import peft
import safetensors
import torch
import torch.nn as nn
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file
from transformers import BertConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_bert_tower_fixture as tower_fixture  # noqa: E402  (TextTower, CONFIG, EMBED_DIM)
import make_lora_fixtures as lf  # noqa: E402  (randomize_lora, lora_params, save_adapter, save_npy, save_st, check, close)

OUT = "java/src/test/resources/bert_lora"
BERT = "java/src/test/resources/bert"
SEED = 20240607
# every Linear of the encoder and the projection; the pooler's dense (unused by this pooler) is left out
LORA = dict(r=4, lora_alpha=8, lora_dropout=0.0, bias="none",
            target_modules=["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense",
                            "proj.0", "proj.2"],
            rank_pattern={"key": 2}, alpha_pattern={"proj.2": 6})


class TextOnly(nn.Module):
    """The part of open_clip's CustomTextCLIP that holds the text tower, so that module paths start with 'text.'."""

    def __init__(self, text):
        super().__init__()
        self.text = text

    def forward(self, ids):
        return self.text(ids)


def read_out(shape):
    """The fixed read-out c of the loss sum(out * c): c[i] = sin(0.7 i + 0.3) over the flattened [B, E] output."""
    i = torch.arange(shape[0] * shape[1], dtype=torch.float64)
    return torch.sin(0.7 * i + 0.3).to(torch.float32).reshape(shape)


def base_model(config):
    tower = tower_fixture.TextTower(config, "cls_last_hidden_state_pooler", "mlp", tower_fixture.EMBED_DIM)
    state = load_file(os.path.join(BERT, "model.safetensors"))
    mine = {k[len("text."):]: v for k, v in state.items() if k.startswith("text.") and not k.endswith("position_ids")}
    tower.load_state_dict(mine, strict=True)
    return TextOnly(tower).eval()


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    lf.OUT = OUT  # the imported save helpers write here
    config = BertConfig(**tower_fixture.CONFIG)
    config._attn_implementation = "eager"
    ids = torch.from_numpy(np.load(os.path.join(BERT, "input_ids.npy")).astype(np.int64))

    with torch.no_grad():
        base = base_model(config)(ids)
    want = torch.from_numpy(np.load(os.path.join(BERT, "expected_mlp_cls_last_hidden_state.npy")))
    lf.check(torch.equal(base, want), "the base tower reproduces bert/expected_mlp_cls_last_hidden_state.npy")

    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)

    pm = get_peft_model(base_model(config), LoraConfig(**LORA))
    lf.randomize_lora(pm, SEED)
    lf.save_adapter(pm, "adapter")
    saved = load_file(os.path.join(OUT, "adapter", "adapter_model.safetensors"))
    mem = dict(lf.lora_params(pm))
    lf.check(set(saved) == set(mem), "saved keys == in-memory LoRA names")
    lf.check(len(saved) == 2 * (config.num_hidden_layers * 6 + 2), f"{len(saved)} LoRA tensors: 6 per layer + 2 projection Linears")
    lf.check("base_model.model.text.transformer.encoder.layer.0.attention.self.query.lora_A.weight" in saved
             and "base_model.model.text.proj.2.lora_B.weight" in saved, "open_clip module paths")
    scalings = {}
    for name, mod in pm.named_modules():
        if isinstance(getattr(mod, "scaling", None), dict) and "default" in mod.scaling:
            scalings[name.removeprefix("base_model.model.")] = (mod.r["default"], mod.scaling["default"])
    lf.check(scalings["text.transformer.encoder.layer.1.attention.self.key"] == (2, 4.0), "rank_pattern key: r 2, s 8/2")
    lf.check(scalings["text.proj.2"] == (4, 1.5), "alpha_pattern proj.2: s 6/4")

    pm.eval()
    with torch.no_grad():
        unmerged = pm(ids)
    lf.check(lf.max_abs(unmerged, base) > 0.1, "the adapter changes the output")
    re_loaded = PeftModel.from_pretrained(base_model(config), os.path.join(OUT, "adapter")).eval()
    with torch.no_grad():
        lf.close(re_loaded(ids), unmerged, 1e-6, "reload")
        merged = re_loaded.merge_and_unload().eval()(ids)
    merge_diff = lf.close(merged, unmerged, 1e-5 * max(1.0, float(unmerged.abs().max())), "merged vs unmerged")

    # gradients (train mode: every dropout probability of the base and the adapter is 0, so train == eval)
    pm.train()
    out = pm(ids)
    lf.close(out.detach(), unmerged, 0, "train-mode forward")
    c = read_out(out.shape)
    loss = (out * c).sum()
    loss.backward()
    grads = {k: p.grad for k, p in lf.lora_params(pm)}
    lf.check(set(grads) == set(saved) and all(g is not None and float(g.abs().max()) > 0 for g in grads.values()),
             "a non-zero gradient for every LoRA tensor")

    lf.save_npy("base_text_embeds.npy", base, "the tower without adapter (= bert/expected_mlp_cls_last_hidden_state.npy)")
    lf.save_npy("adapter_text_embeds.npy", unmerged, "unmerged adapter, eval mode, projected text embeds [4, 24]")
    lf.save_npy("adapter_merged_text_embeds.npy", merged, "after merge_and_unload()")
    lf.save_st("grads.safetensors", grads, "d loss / d every lora_A, lora_B (PEFT key names); loss = sum(out * c)")
    lf.save_npy("read_out.npy", c, "c[i] = sin(0.7 i + 0.3) (flattened [4, 24]), the loss's read-out")
    lf.save_scalar("loss.npy", loss.item(), "sum(adapter_text_embeds * read_out), float32 computation")

    versions = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
                "peft": peft.__version__, "safetensors": safetensors.__version__, "numpy": np.__version__}
    with open(os.path.join(OUT, "versions.json"), "w") as f:
        json.dump(versions, f, indent=2, sort_keys=True)
        f.write("\n")
    write_readme(versions, {k: list(v.shape) for k, v in sorted(saved.items())}, scalings, merge_diff)
    print(json.dumps(versions))
    print("wrote", OUT)


def write_readme(v, shapes, scalings, merge_diff):
    files = "\n".join(f"| `{name}` | {shape} | {desc} |" for name, (shape, _, desc) in sorted(lf.FILES.items())
                      if not isinstance(shape, dict))
    keys = "\n".join(f"    {k} {s}" for k, s in shapes.items())
    scales = "; ".join(f"`{k.removeprefix('text.transformer.')}` r={r}, s={s:g}"
                       for k, (r, s) in sorted(scalings.items()) if "layer.0" not in k)
    text = f"""# LoRA on the BERT text tower: PEFT reference (BiomedCLIP layout)

Written by `models/scripts/make_bert_lora_fixture.py` (run from the repository root; it deletes and rewrites this
folder). CI never runs it. Compared against by `io.vlm4j.model.bert.BertPeftFixtureTest`.

Versions (also in `versions.json`): torch {v['torch']}, transformers {v['transformers']}, peft {v['peft']},
safetensors {v['safetensors']}, numpy {v['numpy']}, Python {v['python']}. CPU, float32, eager attention.

## What it is

- **Base**: the tower of `../bert/` (HF `BertModel`, hidden 32, 2 layers, 4 heads, intermediate 48; open_clip
  `HFTextEncoder` with `cls_last_hidden_state_pooler` and the `mlp` projection to 24), weights read from
  `../bert/model.safetensors`, inside a module whose only child is `text`, so that PEFT sees open_clip's
  `CustomTextCLIP` paths (`text.transformer.encoder.layer.i.attention.self.query`, ..., `text.proj.0`, `text.proj.2`).
  Inputs: `../bert/input_ids.npy` [4, 12] (rows of 12, 7, 3 and 2 tokens, then `[PAD]` = 0; the mask is `ids != 0`).
- **Adapter** (`adapter/`, PEFT's own `save_pretrained` files): `LoraConfig(r=4, lora_alpha=8,
  target_modules={LORA['target_modules']}, rank_pattern={{"key": 2}}, alpha_pattern={{"proj.2": 6}},
  lora_dropout=0)`: every Linear of the encoder (query, key, value, attention.output.dense, intermediate.dense,
  output.dense) and both projection Linears, not the pooler's dense. PEFT's values (layer 0 as layer 1): {scales}.
  Every `lora_A` and `lora_B` is overwritten with N(0, 0.3) (seeded, sorted parameter-name order) before saving.
- **Outputs** (projected, not normalized): unmerged in eval mode, and after `merge_and_unload()` (which differs from
  unmerged by {merge_diff:.2g}).
- **Gradients** of loss = `sum(out * c)` with c = `read_out.npy` (c[i] = sin(0.7 i + 0.3) over the flattened [4, 24]
  output), in train mode with every dropout probability 0 (base model and adapter), under PEFT's saved key names.

## Files

| file | shape | content |
|---|---|---|
{files}
| `adapter/adapter_config.json` | | PEFT LoraConfig |
| `adapter/adapter_model.safetensors` | {len(shapes)} tensors | the adapter (keys below) |
| `grads.safetensors` | {len(shapes)} tensors | d loss / d each adapter tensor, same keys |

Keys of `adapter/adapter_model.safetensors` and `grads.safetensors`:

{keys}
"""
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
