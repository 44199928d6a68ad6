#!/usr/bin/env python3
"""Writes the reference outputs that BertTowerHfFixtureTest (io.vlm4j.model.bert) compares against: a tiny random
HF BertModel wrapped the way open_clip's HFTextEncoder wraps it in BiomedCLIP's CustomTextCLIP (spec 04 section 4),
its weights under open_clip's key names, padded input ids, and the projected text embeddings of three
pooler/projection combinations.

Requirements: Python 3.10+, torch (CPU is enough), transformers, safetensors and numpy (tested with torch 2.13.0+cpu,
transformers 5.17.0, safetensors 0.8.0, numpy 2.4.6; versions.json in the output folder records the ones of the last
run). Only needed to regenerate the committed files; the Java build never runs Python.

open_clip itself cannot be pip-installed here (its wheel requires torchvision, which is not available offline), so
the pooler and the projections are written out below following open_clip's src/open_clip/hf_model.py
(ClsLastHiddenStatePooler, ClsPooler, MeanPooler, the 'linear' and 'mlp' projections of HFTextEncoder). With
--open-clip-wheel PATH (an open_clip_torch-*.whl) the script additionally loads hf_model.py and hf_configs.py straight
out of that wheel, without installing it or importing the rest of the package, builds the real HFTextEncoder for every
combination, loads the same state dict into it (strict) and fails unless its outputs equal ours bit for bit.

Run from the repository root (a few seconds, mostly imports):
    python models/scripts/make_bert_tower_fixture.py [--open-clip-wheel /opt/pypi/files/open_clip_torch-3.3.0-py3-none-any.whl]

Writes java/src/test/resources/bert/ (README.md there describes every file).
"""
import argparse
import json
import os
import platform
import shutil
import sys
import types
import zipfile

import numpy as np
import safetensors
import torch
import torch.nn as nn
import transformers
from safetensors.torch import save_file
from transformers import BertConfig, BertModel

OUT = "java/src/test/resources/bert"
SEED = 20240601

CONFIG = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
              max_position_embeddings=40, type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu", pad_token_id=0,
              hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
EMBED_DIM = 24  # open_clip output_dim (embed_dim)
CLS, SEP, PAD = 2, 3, 0  # PubMedBERT's special-token ids (spec 04 section 5)
LENGTHS = [12, 7, 3, 2]  # tokens per row including [CLS] and [SEP]; the rest is [PAD]
CONTEXT = 12

# (name, hf_pooler_type, hf_proj_type, output_dim, key prefix of the projection in model.safetensors)
COMBOS = [
    ("mlp_cls_last_hidden_state", "cls_last_hidden_state_pooler", "mlp", EMBED_DIM, "text.proj."),  # BiomedCLIP
    ("linear_cls_pooler", "cls_pooler", "linear", EMBED_DIM, "extra.linear_proj."),
    ("none_mean", "mean_pooler", None, CONFIG["hidden_size"], None),
]


# ---- open_clip's poolers and projections, following src/open_clip/hf_model.py ----------------------------------------

def pool(pooler_type, out, attn_mask):
    if pooler_type == "cls_last_hidden_state_pooler":  # ClsLastHiddenStatePooler
        return out.last_hidden_state[:, 0, :]
    if pooler_type == "cls_pooler":  # ClsPooler(use_pooler_output=True): pooler_output when the model has one
        assert out.pooler_output is not None
        return out.pooler_output
    if pooler_type == "mean_pooler":  # MeanPooler
        masked = out.last_hidden_state * attn_mask.unsqueeze(-1)
        return masked.sum(dim=1) / attn_mask.sum(-1, keepdim=True)
    raise ValueError(pooler_type)


def make_proj(proj_type, d_model, output_dim):
    if d_model == output_dim and proj_type is None:
        return nn.Identity()
    if proj_type == "linear":
        return nn.Linear(d_model, output_dim, bias=False)
    if proj_type == "mlp":
        hidden = (d_model + output_dim) // 2
        return nn.Sequential(nn.Linear(d_model, hidden, bias=False), nn.GELU(), nn.Linear(hidden, output_dim, bias=False))
    raise ValueError(proj_type)


class TextTower(nn.Module):
    """HFTextEncoder(config=..., pooler_type, proj_type) as open_clip builds it from a config object: the transformer
    comes from AutoModel.from_config, i.e. BertModel *with* its pooling layer, whatever the pooler type."""

    def __init__(self, config, pooler_type, proj_type, output_dim):
        super().__init__()
        self.config = config
        self.transformer = BertModel(config)  # add_pooling_layer=True, as AutoModel.from_config builds it
        self.pooler_type = pooler_type
        self.proj = make_proj(proj_type, config.hidden_size, output_dim)

    def forward(self, x):
        attn_mask = (x != self.config.pad_token_id).long()  # HFTextEncoder.forward
        out = self.transformer(input_ids=x, attention_mask=attn_mask)
        return self.proj(pool(self.pooler_type, out, attn_mask))


def reinit(model, seed):
    """Larger-than-HF init so that activations are O(1) and errors show: Linear weights N(0, 0.2), embeddings
    N(0, 0.5), LayerNorm gamma 1 + 0.1 N(0,1), beta and biases 0.1 N(0,1); parameters visited in sorted name order."""
    g = torch.Generator().manual_seed(seed)
    owner = {}
    for mname, mod in model.named_modules():
        for pname, _ in mod.named_parameters(recurse=False):
            owner[(mname + "." if mname else "") + pname] = mod
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            mod = owner[name]
            noise = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if isinstance(mod, nn.LayerNorm):
                p.copy_(1.0 + 0.1 * noise if name.endswith(".weight") else 0.1 * noise)
            elif isinstance(mod, nn.Embedding):
                p.copy_(0.5 * noise)
            elif name.endswith(".bias"):
                p.copy_(0.1 * noise)
            else:
                p.copy_(0.2 * noise)


def input_ids(seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.full((len(LENGTHS), CONTEXT), PAD, dtype=torch.long)
    for r, n in enumerate(LENGTHS):
        ids[r, 0] = CLS
        ids[r, 1:n - 1] = torch.randint(5, CONFIG["vocab_size"], (n - 2,), generator=g)
        ids[r, n - 1] = SEP
    return ids


def load_real_hf_model(wheel):
    """open_clip.hf_model from the wheel file, with hf_configs as its only sibling (the package __init__, which
    imports torchvision, never runs)."""
    zf = zipfile.ZipFile(wheel)
    pkg = types.ModuleType("open_clip")
    pkg.__path__ = []
    sys.modules["open_clip"] = pkg
    for name in ("hf_configs", "hf_model"):
        mod = types.ModuleType("open_clip." + name)
        mod.__package__ = "open_clip"
        sys.modules[mod.__name__] = mod
        exec(compile(zf.read(f"open_clip/{name}.py").decode("utf-8"), f"{wheel}!open_clip/{name}.py", "exec"), mod.__dict__)
    metadata = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
    version = next(line.split(":", 1)[1].strip() for line in zf.read(metadata).decode("utf-8").splitlines()
                   if line.startswith("Version:"))
    return sys.modules["open_clip.hf_model"], version


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--open-clip-wheel", help="check against open_clip's HFTextEncoder read from this wheel")
    args = ap.parse_args()

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    config = BertConfig(**CONFIG)
    config._attn_implementation = "eager"  # the plain softmax(QK^T/sqrt(d) + (1-m)*finfo.min)V of spec 04 section 4

    towers = {}
    for i, (name, pooler_type, proj_type, dim, _) in enumerate(COMBOS):
        t = TextTower(config, pooler_type, proj_type, dim).eval()
        if i == 0:
            reinit(t, SEED)
        else:  # the same BERT weights, a projection of its own
            t.transformer.load_state_dict(towers[COMBOS[0][0]].transformer.state_dict())
            reinit(t.proj, SEED + i)
        towers[name] = t

    ids = input_ids(SEED + 100)
    outputs = {}
    with torch.no_grad():
        for name, t in towers.items():
            outputs[name] = t(ids)
            # the default attention (sdpa) agrees with eager to float32 rounding
            sdpa = BertModel(BertConfig(**CONFIG), add_pooling_layer=True).eval()
            sdpa.load_state_dict(t.transformer.state_dict())
            mask = (ids != PAD).long()
            a = t.transformer(input_ids=ids, attention_mask=mask).last_hidden_state
            b = sdpa(input_ids=ids, attention_mask=mask).last_hidden_state
            assert torch.allclose(a, b, atol=1e-5, rtol=0), (name, (a - b).abs().max())
            # padded positions' ids do not matter (masked keys), only the mask
            junk = ids.clone()
            junk[ids == PAD] = 7
            c = t.transformer(input_ids=junk, attention_mask=mask).last_hidden_state
            assert torch.equal(a[:, 0], c[:, 0]), name

    open_clip_version = None
    if args.open_clip_wheel:
        hf_model, open_clip_version = load_real_hf_model(args.open_clip_wheel)
        with torch.no_grad():
            for name, pooler_type, proj_type, dim, _ in COMBOS:
                real = hf_model.HFTextEncoder(None, output_dim=dim, config=config, pooler_type=pooler_type,
                                              proj_type=proj_type, pretrained=False).eval()
                real.load_state_dict(towers[name].state_dict(), strict=True)
                got = real(ids)
                assert torch.equal(got, outputs[name]), (name, (got - outputs[name]).abs().max())
                print(f"open_clip {open_clip_version} HFTextEncoder({pooler_type}, {proj_type}): identical")

    # ---- files ----
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    main_tower = towers[COMBOS[0][0]]
    weights = {"text." + k: v.contiguous() for k, v in main_tower.state_dict().items()}
    # older checkpoints still carry position_ids (int64); the Java side must simply not read it
    weights["text.transformer.embeddings.position_ids"] = torch.arange(CONFIG["max_position_embeddings"]).unsqueeze(0)
    weights["extra.linear_proj.weight"] = towers["linear_cls_pooler"].proj.weight.detach().contiguous()
    weights["logit_scale"] = torch.tensor(np.log(1 / 0.07), dtype=torch.float32)
    save_file(weights, os.path.join(OUT, "model.safetensors"))
    config_json = {k: v for k, v in json.loads(config.to_json_string(use_diff=False)).items() if k != "_attn_implementation"}
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config_json, f, indent=2, sort_keys=True)
    np.save(os.path.join(OUT, "input_ids.npy"), ids.numpy().astype(np.int32))
    np.save(os.path.join(OUT, "attention_mask.npy"), (ids != PAD).numpy().astype(np.int32))
    for name, out in outputs.items():
        np.save(os.path.join(OUT, f"expected_{name}.npy"), out.numpy().astype(np.float32))

    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "transformers": transformers.__version__, "safetensors": safetensors.__version__,
                "numpy": np.__version__, "open_clip_checked": open_clip_version}
    with open(os.path.join(OUT, "versions.json"), "w") as f:
        json.dump(versions, f, indent=2, sort_keys=True)
    keys = "\n".join(f"    {k} {list(v.shape)} {str(v.dtype).replace('torch.', '')}" for k, v in sorted(weights.items()))
    write_readme(versions, keys, {n: outputs[n].abs().max().item() for n in outputs})
    print("wrote", OUT)


def write_readme(v, keys, maxabs):
    checked = (f"The outputs were also checked against open_clip {v['open_clip_checked']}'s real `HFTextEncoder` (loaded "
               "from its wheel without installing it) and are bit-identical."
               if v["open_clip_checked"] else
               "open_clip's real `HFTextEncoder` was not run (no `--open-clip-wheel`); the pooler and projections "
               "follow its hf_model.py.")
    text = f"""# BERT text tower fixture (open_clip `HFTextEncoder` over HF `BertModel`)

Written by `models/scripts/make_bert_tower_fixture.py` (run from the repository root; it deletes and rewrites this
folder). CI never runs it. Compared against by `io.vlm4j.model.bert.BertTowerHfFixtureTest`.

Versions (also in `versions.json`): torch {v['torch']}, transformers {v['transformers']}, safetensors
{v['safetensors']}, numpy {v['numpy']}, Python {v['python']}. CPU, float32, `torch.set_num_threads(1)`, eager
attention (the script checks that SDPA agrees to 1e-5). {checked}

## What it is

- `config.json`: the HF `BertConfig` (vocab 100, hidden 32, 2 layers, 4 heads, intermediate 48, 40 positions,
  2 token types, eps 1e-12, exact `gelu`, pad 0).
- The tower is open_clip's `HFTextEncoder` as built from a config object: `BertModel` *with* its pooling layer
  (`AutoModel.from_config`), mask `ids != pad_token_id`, no token-type ids (all 0), then a pooler and a projection.
  Weights are re-initialized (seeded) larger than HF's init so activations are O(1): Linear weights N(0, 0.2),
  embeddings N(0, 0.5), LayerNorm gamma 1 + 0.1 N(0,1), beta and biases 0.1 N(0,1).
- `model.safetensors` uses `CustomTextCLIP` key names: `text.transformer.*` (the BertModel, including
  `pooler.dense.*` as in older BiomedCLIP files, and an int64 `embeddings.position_ids` that must be ignored),
  `text.proj.0.weight` / `text.proj.2.weight` (the MLP projection), plus `extra.linear_proj.weight` (the linear
  projection of the second combination, not an open_clip name) and `logit_scale` (unused here).
- `input_ids.npy` int32 [4, 12]: `[CLS]`=2, random ids in 5..99, `[SEP]`=3, then `[PAD]`=0; row lengths
  {LENGTHS}. `attention_mask.npy` int32 [4, 12] is `ids != 0` (what open_clip computes; reference only).

## Expected outputs (float32, projected, not normalized)

| file | shape | open_clip text_cfg | Java options | max abs |
|---|---|---|---|---|
| `expected_mlp_cls_last_hidden_state.npy` | [4, 24] | `hf_pooler_type: cls_last_hidden_state_pooler`, `hf_proj_type: mlp`, embed_dim 24 (BiomedCLIP) | `CLS_LAST_HIDDEN_STATE`, `MLP`, proj prefix `text.proj.` | {maxabs['mlp_cls_last_hidden_state']:.3f} |
| `expected_linear_cls_pooler.npy` | [4, 24] | `cls_pooler` (BERT's tanh pooler output), `linear` | `CLS_POOLER`, `LINEAR`, proj prefix `extra.linear_proj.` | {maxabs['linear_cls_pooler']:.3f} |
| `expected_none_mean.npy` | [4, 32] | `mean_pooler`, no projection (width = embed_dim 32) | `MEAN`, `NONE` | {maxabs['none_mean']:.3f} |

All three share the same BERT weights. MLP: Linear(32, 28, bias=False), exact GELU, Linear(28, 24, bias=False).

## model.safetensors keys

{keys}
"""
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
