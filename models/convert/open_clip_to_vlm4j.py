#!/usr/bin/env python3
"""Convert an open_clip checkpoint into a directory vlm4j loads.

    python3 models/convert/open_clip_to_vlm4j.py SRC OUT [--config FILE] [--dtype keep|f32|f16|bf16] [--keep-names] [--force]

SRC is an open_clip model directory (open_clip_config.json + open_clip_pytorch_model.bin or
open_clip_model.safetensors, as on the Hugging Face hub) or the checkpoint file itself, with its
open_clip_config.json beside it or given by --config.

* Plain CLIP (open_clip's native ViT CLIP: OpenAI, LAION, DataComp, MetaCLIP, ... weights) becomes a Hugging Face
  CLIPModel directory: config.json (HF CLIPConfig) and model.safetensors with HF names, each fused
  attn.in_proj_weight/in_proj_bias split into q/k/v, visual.proj and text_projection transposed to [E, D]
  (spec 01 sections 2 and 4.2; the mapping of transformers' convert_clip_original_pytorch_to_hf.py).
* Any other open_clip model (CustomTextCLIP: BiomedCLIP's timm ViT + Hugging Face BERT, spec 04; SigLIP; ResNet
  CLIP; ...) keeps its open_clip key names: model.safetensors without text.transformer.pooler.* (unused by
  BiomedCLIP's cls_last_hidden_state_pooler) and position_ids buffers, plus a copy of open_clip_config.json. vlm4j
  loads such a directory only where it has a loader for that family.

Tokenizer and preprocessor files found beside the checkpoint are copied; without a preprocessor_config.json one is
written from open_clip's preprocess_cfg. Runs with Debian's python3-torch (torch 1.13) and newer: the safetensors
format is read and written here (8-byte little-endian header length, JSON header, raw little-endian data) so the
safetensors package is not needed. Weights stay in their stored dtype unless --dtype says otherwise.
"""
import argparse
import inspect
import json
import math
import os
import re
import shutil
import struct
import sys

import torch

OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                   "vocab.json", "merges.txt", "vocab.txt", "bpe_simple_vocab_16e6.txt.gz", "spiece.model",
                   "preprocessor_config.json"]
CHECKPOINT_NAMES = ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]

ST_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
             "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
             "BOOL": torch.bool}
ST_NAMES = {v: k for k, v in ST_DTYPES.items()}


class ConversionError(Exception):
    pass


# ---- safetensors, without the safetensors package ----

def read_safetensors(path):
    """name -> tensor, in file order."""
    out = {}
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ConversionError(f"{path}: too short for a safetensors file")
        n = struct.unpack("<Q", raw)[0]
        if n > 100 << 20:
            raise ConversionError(f"{path}: header of {n} bytes; not a safetensors file")
        header = json.loads(f.read(n).decode("utf-8"))
        base = 8 + n
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype = ST_DTYPES.get(info["dtype"])
            if dtype is None:
                raise ConversionError(f"{path}: tensor '{name}' has unsupported dtype {info['dtype']}")
            begin, end = info["data_offsets"]
            shape = [int(d) for d in info["shape"]]
            f.seek(base + begin)
            buf = bytearray(f.read(end - begin))
            if len(buf) != end - begin:
                raise ConversionError(f"{path}: tensor '{name}' runs past the end of the file")
            numel = math.prod(shape) if shape else 1
            if numel == 0:
                out[name] = torch.empty(shape, dtype=dtype)
            else:
                out[name] = torch.frombuffer(buf, dtype=dtype).reshape(shape)
    return out


def tensor_bytes(t):
    t = t.detach().cpu().contiguous().reshape(-1)
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: the same 2 bytes as int16
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def write_safetensors(path, tensors, metadata=None):
    """Writes name -> tensor in insertion order, atomically (temp file + rename)."""
    if sys.byteorder != "little":
        raise ConversionError("safetensors data is little-endian; this writer runs only on little-endian machines")
    header = {"__metadata__": dict(metadata or {"format": "pt"})}
    offset = 0
    for name, t in tensors.items():
        if t.dtype not in ST_NAMES:
            raise ConversionError(f"tensor '{name}' has dtype {t.dtype}, which safetensors cannot store")
        nbytes = t.numel() * t.element_size()
        header[name] = {"dtype": ST_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)  # keeps every tensor's data 8-byte aligned
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for t in tensors.values():
            f.write(tensor_bytes(t))
    os.replace(tmp, path)


# ---- reading the checkpoint ----

def load_checkpoint(path):
    if path.endswith(".safetensors"):
        sd = read_safetensors(path)
    else:
        kwargs = {"map_location": "cpu"}
        if "weights_only" in inspect.signature(torch.load).parameters:
            kwargs["weights_only"] = True  # plain tensors only: a pickle must not run code
        try:
            obj = torch.load(path, **kwargs)
        except RuntimeError as e:
            if "TorchScript" in str(e) or "constants.pkl" in str(e):
                raise ConversionError(f"{path}: a TorchScript archive (OpenAI .pt); load it with open_clip and save "
                                      "its state_dict, or use the hub's open_clip_pytorch_model.bin") from e
            raise
        if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
            obj = obj["state_dict"]  # an open_clip training checkpoint {epoch, name, state_dict, optimizer}
        if not isinstance(obj, dict):
            raise ConversionError(f"{path}: expected a state dict, got {type(obj).__name__}")
        sd = obj
    sd = {k: v for k, v in sd.items() if torch.is_tensor(v)}
    if sd and all(k.startswith("module.") for k in sd):  # saved from DistributedDataParallel
        sd = {k[len("module."):]: v for k, v in sd.items()}
    if not sd:
        raise ConversionError(f"{path}: no tensors")
    return sd


def find_inputs(src, config):
    if os.path.isdir(src):
        ckpt = next((os.path.join(src, n) for n in CHECKPOINT_NAMES if os.path.isfile(os.path.join(src, n))), None)
        if ckpt is None:
            raise ConversionError(f"{src}: no {' or '.join(CHECKPOINT_NAMES)}")
        src_dir = src
    else:
        ckpt, src_dir = src, os.path.dirname(os.path.abspath(src))
    config = config or os.path.join(src_dir, "open_clip_config.json")
    if not os.path.isfile(config):
        raise ConversionError(f"{config}: missing; pass --config")
    return ckpt, config, src_dir


# ---- open_clip_config.json ----

def model_cfg_of(root):
    # hub uploads: {model_cfg, preprocess_cfg}; open_clip's model_configs/*.json: the bare model config
    return root["model_cfg"] if "model_cfg" in root else root


def not_plain_clip(mc):
    """Why open_clip would not build this config as its native ViT CLIP with HF CLIPModel's math; None if it would.
    The same rules as vlm4j's OpenClipLayout."""
    v, t = mc.get("vision_cfg", {}), mc.get("text_cfg", {})
    if mc.get("multimodal_cfg"):
        return "multimodal_cfg: a CoCa model"
    if mc.get("init_logit_bias") is not None or "siglip" in str(v.get("timm_model_name") or ""):
        return "a SigLIP model (logit_bias, timm image tower)"
    if v.get("timm_model_name") and t.get("hf_model_name"):
        return (f"vision_cfg.timm_model_name '{v['timm_model_name']}' + text_cfg.hf_model_name '{t['hf_model_name']}':"
                " a CustomTextCLIP with a timm image tower and a Hugging Face text tower (the BiomedCLIP family)")
    if v.get("timm_model_name"):
        return f"vision_cfg.timm_model_name '{v['timm_model_name']}': a timm image tower"
    if t.get("hf_model_name"):
        return f"text_cfg.hf_model_name '{t['hf_model_name']}': a Hugging Face text tower (CustomTextCLIP)"
    if isinstance(v.get("layers"), (list, tuple)):
        return "vision_cfg.layers is a list: a ResNet CLIP (ModifiedResNet)"
    checks = [
        (v, "vision_cfg", "pool_type", "tok"), (v, "vision_cfg", "no_ln_pre", False),
        (v, "vision_cfg", "pos_embed_type", "learnable"), (v, "vision_cfg", "ls_init_value", None),
        (v, "vision_cfg", "attentional_pool", False), (v, "vision_cfg", "input_patchnorm", False),
        (v, "vision_cfg", "global_average_pool", False),
        (t, "text_cfg", "ls_init_value", None), (t, "text_cfg", "embed_cls", False),
        (t, "text_cfg", "no_causal_mask", False), (t, "text_cfg", "proj_bias", False),
        (t, "text_cfg", "proj_type", "linear"),
    ]
    for cfg, where in ((v, "vision_cfg"), (t, "text_cfg")):
        checks += [(cfg, where, k, False) for k in
                   ("qk_norm", "scaled_cosine_attn", "scale_heads", "scale_attn_inner", "scale_attn", "scale_fc")]
        if cfg.get("block_type") not in (None, "default"):
            return f"{where}.block_type '{cfg['block_type']}' is not CLIP's block"
        if cfg.get("act_kwargs"):
            return f"{where}.act_kwargs {cfg['act_kwargs']} changes the activation"
        if set((cfg.get("norm_kwargs") or {})) - {"eps"}:
            return f"{where}.norm_kwargs {cfg['norm_kwargs']}: only eps maps to HF's layer_norm_eps"
    for cfg, where, key, plain in checks:
        value = cfg.get(key, plain)
        if value is not None and plain is not None and value != plain or plain is None and value is not None:
            return f"{where}.{key} = {value!r} (CLIP: {plain!r})"
    if t.get("pool_type", "argmax") not in ("argmax", "eos"):
        return f"text_cfg.pool_type '{t['pool_type']}' (CLIP: argmax)"
    if t.get("pool_type") == "eos" and t.get("eos_id", 2) == 2:
        return "text_cfg.pool_type 'eos' with eos_id 2 cannot be expressed in HF (eos id 2 means argmax pooling)"
    for cfg, where in ((v, "vision_cfg"), (t, "text_cfg")):
        for key in ("image_size", "patch_size"):
            value = cfg.get(key)
            if isinstance(value, (list, tuple)) and (len(value) != 2 or value[0] != value[1]):
                return f"{where}.{key} {value} is not square"
    return None


def square(value, default):
    if value is None:
        return default
    return int(value[0]) if isinstance(value, (list, tuple)) else int(value)


def hf_config(mc):
    """HF CLIPConfig for an open_clip plain CLIP model_cfg (open_clip model.py CLIPVisionCfg/CLIPTextCfg defaults)."""
    v, t = mc["vision_cfg"], mc["text_cfg"]
    act = "quick_gelu" if mc.get("quick_gelu", False) else "gelu"
    embed = int(mc["embed_dim"])
    vw, tw = int(v.get("width", 768)), int(t.get("width", 512))
    vocab = int(t.get("vocab_size", 49408))
    pool = t.get("pool_type", "argmax")
    # HF pools at argmax(ids) exactly when eos_token_id == 2 (legacy OpenAI configs use bos 0, eos 2, pad 1), which
    # is open_clip's argmax pooling: OpenAI's <|endoftext|> is the largest id.
    bos, eos, pad = (0, 2, 1) if pool == "argmax" else (0, int(t["eos_id"]), int(t.get("pad_id", 0)))
    return {
        "architectures": ["CLIPModel"],
        "model_type": "clip",
        "projection_dim": embed,
        "logit_scale_init_value": float(mc.get("init_logit_scale", math.log(1 / 0.07))),
        "initializer_factor": 1.0,
        "text_config": {
            "model_type": "clip_text_model",
            "vocab_size": vocab,
            "hidden_size": tw,
            "intermediate_size": int(tw * float(t.get("mlp_ratio", 4.0))),  # open_clip: int(width * mlp_ratio)
            "num_hidden_layers": int(t.get("layers", 12)),
            "num_attention_heads": int(t.get("heads", 8)),
            "max_position_embeddings": int(t.get("context_length", 77)),
            "hidden_act": act,
            "layer_norm_eps": float((t.get("norm_kwargs") or {}).get("eps", 1e-5)),
            "projection_dim": embed,
            "bos_token_id": bos, "eos_token_id": eos, "pad_token_id": pad,
        },
        "vision_config": {
            "model_type": "clip_vision_model",
            "hidden_size": vw,
            "intermediate_size": int(vw * float(v.get("mlp_ratio", 4.0))),
            "num_hidden_layers": int(v.get("layers", 12)),
            "num_attention_heads": vw // int(v.get("head_width", 64)),  # open_clip: width // head_width
            "num_channels": 3,
            "image_size": square(v.get("image_size"), 224),
            "patch_size": square(v.get("patch_size"), 16),
            "hidden_act": act,
            "layer_norm_eps": float((v.get("norm_kwargs") or {}).get("eps", 1e-5)),
            "projection_dim": embed,
        },
    }


def expected_shapes(cfg):
    t, v, e = cfg["text_config"], cfg["vision_config"], cfg["projection_dim"]
    shapes = {}
    for tower, c in (("text_model", t), ("vision_model", v)):
        d, f = c["hidden_size"], c["intermediate_size"]
        for i in range(c["num_hidden_layers"]):
            p = f"{tower}.encoder.layers.{i}."
            for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
                shapes[p + f"self_attn.{n}.weight"], shapes[p + f"self_attn.{n}.bias"] = [d, d], [d]
            for n in ("layer_norm1", "layer_norm2"):
                shapes[p + n + ".weight"], shapes[p + n + ".bias"] = [d], [d]
            shapes[p + "mlp.fc1.weight"], shapes[p + "mlp.fc1.bias"] = [f, d], [f]
            shapes[p + "mlp.fc2.weight"], shapes[p + "mlp.fc2.bias"] = [d, f], [d]
    dt, dv, g = t["hidden_size"], v["hidden_size"], v["image_size"] // v["patch_size"]
    shapes.update({
        "text_model.embeddings.token_embedding.weight": [t["vocab_size"], dt],
        "text_model.embeddings.position_embedding.weight": [t["max_position_embeddings"], dt],
        "text_model.final_layer_norm.weight": [dt], "text_model.final_layer_norm.bias": [dt],
        "text_projection.weight": [e, dt],
        "vision_model.embeddings.class_embedding": [dv],
        "vision_model.embeddings.patch_embedding.weight": [dv, 3, v["patch_size"], v["patch_size"]],
        "vision_model.embeddings.position_embedding.weight": [g * g + 1, dv],
        "vision_model.pre_layrnorm.weight": [dv], "vision_model.pre_layrnorm.bias": [dv],
        "vision_model.post_layernorm.weight": [dv], "vision_model.post_layernorm.bias": [dv],
        "visual_projection.weight": [e, dv],
        "logit_scale": [],
    })
    return shapes


# ---- key mapping (spec 01 section 4.2) ----

LAYER_RENAMES = {"ln_1.": "layer_norm1.", "ln_2.": "layer_norm2.", "attn.out_proj.": "self_attn.out_proj.",
                 "mlp.c_fc.": "mlp.fc1.", "mlp.c_proj.": "mlp.fc2."}
TOP_RENAMES = {
    "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
    "visual.class_embedding": "vision_model.embeddings.class_embedding",
    "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
    "visual.ln_pre.weight": "vision_model.pre_layrnorm.weight", "visual.ln_pre.bias": "vision_model.pre_layrnorm.bias",
    "visual.ln_post.weight": "vision_model.post_layernorm.weight",
    "visual.ln_post.bias": "vision_model.post_layernorm.bias",
    "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
    "positional_embedding": "text_model.embeddings.position_embedding.weight",
    "ln_final.weight": "text_model.final_layer_norm.weight", "ln_final.bias": "text_model.final_layer_norm.bias",
    "logit_scale": "logit_scale",
}
TRANSPOSED = {"visual.proj": "visual_projection.weight", "text_projection": "text_projection.weight"}
IGNORED = re.compile(r"(text\.)?attn_mask|.*position_ids|input_resolution|context_length|vocab_size")
LAYER = re.compile(r"(visual\.|text\.)?transformer\.resblocks\.(\d+)\.(.+)")


def to_hf(sd):
    """open_clip / OpenAI names -> HF CLIPModel names; raises on any key it does not know."""
    out, unknown = {}, []
    for key, t in sd.items():
        name = key[len("text."):] if key.startswith("text.") and not LAYER.fullmatch(key) else key
        m = LAYER.fullmatch(key)
        if m:
            tower = "vision_model" if m.group(1) == "visual." else "text_model"
            p, rest = f"{tower}.encoder.layers.{m.group(2)}.", m.group(3)
            if rest in ("attn.in_proj_weight", "attn.in_proj_bias"):
                which = "weight" if rest.endswith("weight") else "bias"
                if t.shape[0] % 3:
                    raise ConversionError(f"'{key}' has {t.shape[0]} rows, not q, k and v stacked")
                for n, part in zip(("q_proj", "k_proj", "v_proj"), t.chunk(3, dim=0)):
                    out[p + f"self_attn.{n}.{which}"] = part.clone()
                continue
            prefix = next((r for r in LAYER_RENAMES if rest.startswith(r)), None)
            if prefix is not None:
                out[p + LAYER_RENAMES[prefix] + rest[len(prefix):]] = t
                continue
        elif name in TOP_RENAMES:
            out[TOP_RENAMES[name]] = t
            continue
        elif name in TRANSPOSED:
            if t.dim() != 2:
                raise ConversionError(f"'{key}' has shape {list(t.shape)}, expected [D, E]")
            out[TRANSPOSED[name]] = t.t().contiguous()  # open_clip computes x @ proj; HF stores the Linear weight
            continue
        elif IGNORED.fullmatch(key):
            continue
        unknown.append(key)
    if unknown:
        raise ConversionError(f"{len(unknown)} tensor(s) a plain open_clip CLIP does not have, e.g. {unknown[:5]}")
    # vectors with leading 1s ([1, 1, D] class embedding, [1] logit scale) take HF's shapes
    if "vision_model.embeddings.class_embedding" in out:
        out["vision_model.embeddings.class_embedding"] = out["vision_model.embeddings.class_embedding"].reshape(-1)
    if "logit_scale" in out and out["logit_scale"].numel() == 1:
        out["logit_scale"] = out["logit_scale"].reshape(())
    return out


def check_shapes(hf, cfg, ckpt):
    want = expected_shapes(cfg)
    missing = [k for k in want if k not in hf]
    if missing:
        raise ConversionError(f"{ckpt}: missing weights for {missing[:5]} ({len(missing)} in all)")
    extra = [k for k in hf if k not in want]
    if extra:
        raise ConversionError(f"{ckpt}: tensors the config does not account for: {extra[:5]} (layer counts?)")
    for k, shape in want.items():
        if list(hf[k].shape) != shape:
            raise ConversionError(f"{ckpt}: '{k}' has shape {list(hf[k].shape)} but open_clip_config.json implies {shape}")


# ---- preprocessing ----

def preprocessor_config(root, image_size):
    """HF CLIPImageProcessor settings from open_clip's preprocess_cfg (open_clip transform.py, eval pipeline)."""
    pc = root.get("preprocess_cfg") or {}
    size = square(pc.get("size"), image_size)
    mode = pc.get("resize_mode", "shortest")
    resample = {"bicubic": 3, "bilinear": 2, "nearest": 0}.get(pc.get("interpolation", "bicubic"))
    if resample is None or mode not in ("shortest", "squash"):
        return None, f"preprocess_cfg {pc} has no CLIPImageProcessor equivalent; no preprocessor_config.json written"
    cfg = {
        "image_processor_type": "CLIPImageProcessor",
        "do_convert_rgb": True,
        "do_resize": True,
        "resample": resample,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": list(pc.get("mean", OPENAI_MEAN)),
        "image_std": list(pc.get("std", OPENAI_STD)),
    }
    if mode == "shortest":  # Resize(shortest edge) + CenterCrop
        cfg.update(size={"shortest_edge": size}, do_center_crop=True, crop_size={"height": size, "width": size})
    else:  # squash: resize to size x size, no crop
        cfg.update(size={"height": size, "width": size}, do_center_crop=False)
    return cfg, None


# ---- main ----

def cast(sd, dtype):
    if dtype == "keep":
        return sd
    target = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[dtype]
    return {k: v.to(target) if v.is_floating_point() else v for k, v in sd.items()}


def convert(src, out, config=None, dtype="keep", keep_names=False, force=False, log=print):
    ckpt, config, src_dir = find_inputs(src, config)
    with open(config, encoding="utf-8") as f:
        root = json.load(f)
    mc = model_cfg_of(root)
    if os.path.exists(out) and os.listdir(out) and not force:
        raise ConversionError(f"{out}: exists and is not empty (--force to write into it)")
    os.makedirs(out, exist_ok=True)
    sd = load_checkpoint(ckpt)
    dtypes = sorted({str(v.dtype).replace("torch.", "") for v in sd.values() if v.is_floating_point()})
    log(f"read {ckpt}: {len(sd)} tensors ({', '.join(dtypes)}), {sum(v.numel() for v in sd.values()):,} values")
    why = not_plain_clip(mc)
    written = []
    if why is None and not keep_names:
        cfg = hf_config(mc)
        hf = to_hf(sd)
        check_shapes(hf, cfg, ckpt)
        hf = cast(hf, dtype)
        first = next(v for v in hf.values() if v.is_floating_point())
        cfg["torch_dtype"] = str(first.dtype).replace("torch.", "")
        with open(os.path.join(out, "config.json"), "w", encoding="utf-8") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        write_safetensors(os.path.join(out, "model.safetensors"), hf)
        written += ["config.json", "model.safetensors"]
        t, v = cfg["text_config"], cfg["vision_config"]
        log(f"plain CLIP -> HF CLIPModel: vision {v['num_hidden_layers']}x{v['hidden_size']} "
            f"({v['num_attention_heads']} heads, mlp {v['intermediate_size']}, image {v['image_size']}/{v['patch_size']}), "
            f"text {t['num_hidden_layers']}x{t['hidden_size']} ({t['num_attention_heads']} heads, "
            f"context {t['max_position_embeddings']}, vocab {t['vocab_size']}), embed {cfg['projection_dim']}, "
            f"{t['hidden_act']}; {len(hf)} tensors (q/k/v split, projections transposed)")
        image_size = v["image_size"]
    else:
        reason = "--keep-names" if why is None else why
        dropped = [k for k in sd if k.startswith("text.transformer.pooler.") or k.endswith("position_ids")]
        kept = cast({k: v for k, v in sd.items() if k not in dropped}, dtype)
        write_safetensors(os.path.join(out, "model.safetensors"), kept)
        shutil.copyfile(config, os.path.join(out, "open_clip_config.json"))
        written += ["model.safetensors", "open_clip_config.json"]
        log(f"not a plain CLIP ({reason}): kept open_clip names; {len(kept)} tensors, dropped {dropped or 'nothing'}")
        image_size = square(mc.get("vision_cfg", {}).get("image_size"), 224)
    for name in TOKENIZER_FILES:
        path = os.path.join(src_dir, name)
        if os.path.isfile(path) and not os.path.exists(os.path.join(out, name)):
            shutil.copyfile(path, os.path.join(out, name))
            written.append(name)
    if "preprocessor_config.json" not in written and not os.path.exists(os.path.join(out, "preprocessor_config.json")):
        pre, note = preprocessor_config(root, image_size)
        if pre is not None:
            with open(os.path.join(out, "preprocessor_config.json"), "w", encoding="utf-8") as f:
                json.dump(pre, f, indent=2)
                f.write("\n")
            written.append("preprocessor_config.json (from preprocess_cfg and open_clip's defaults)")
        else:
            log(note)
    if not any(n in written for n in ("tokenizer.json", "vocab.json", "bpe_simple_vocab_16e6.txt.gz", "vocab.txt")):
        log("no tokenizer files found beside the checkpoint: give vlm4j --tokenizer DIR, or pass token ids")
    log(f"wrote {out}: {', '.join(written)}")
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", help="open_clip model directory or checkpoint file (.bin/.pt/.safetensors)")
    ap.add_argument("out", help="output directory")
    ap.add_argument("--config", help="open_clip_config.json (default: beside the checkpoint)")
    ap.add_argument("--dtype", default="keep", choices=["keep", "f32", "f16", "bf16"], help="weight dtype to write")
    ap.add_argument("--keep-names", action="store_true", help="keep open_clip names even for a plain CLIP")
    ap.add_argument("--force", action="store_true", help="write into a non-empty output directory")
    a = ap.parse_args(argv)
    try:
        convert(a.src, a.out, a.config, a.dtype, a.keep_names, a.force)
    except (ConversionError, OSError, json.JSONDecodeError, KeyError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
