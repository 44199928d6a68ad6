#!/usr/bin/env python3
"""Writes the reference values that the Java LoRA tests compare against: a tiny HF CLIPModel, two PEFT LoRA adapters
(one per config-parsing style), their forward outputs unmerged and merged, and gradients and an AdamW trajectory for
a contrastive and a classification objective, all computed by the real libraries.

Requirements: Python 3.10+, torch (CPU is enough), transformers, peft, safetensors and numpy (tested with torch
2.13.0+cpu, transformers 5.17.0, peft 0.21.0, safetensors 0.8.0, numpy 2.4.6; versions.json in the output folder
records the ones of the last run). Only needed to regenerate the committed files; the Java build never runs Python.

Run from the repository root (about 10 s on 2 CPU cores, mostly imports):
    python models/scripts/make_lora_fixtures.py

Writes java/src/test/resources/lora/ (README.md there lists every file with its shape and the conventions):
    base/                      CLIPModel.save_pretrained: config.json + model.safetensors (float32)
    adapter_a/, adapter_b/     PeftModel.save_pretrained: adapter_config.json + adapter_model.safetensors
    *.npy                      inputs and outputs (float32 tensors, int32 ids/labels, float64 scalar losses)
    head.safetensors, grads_*.safetensors, traj_step{1,2,3}.safetensors
    README.md, versions.json

Everything is generated from fixed seeds. The script checks itself (merged == unmerged, a reload through
PeftModel.from_pretrained reproduces the outputs, PEFT's scaling equals alpha/r or alpha/sqrt(r), HF's own
CLIPModel loss equals ours, the padding mask does not change the text embeddings) and fails on any mismatch.
"""
import json
import math
import os
import platform
import re
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import transformers
import peft
import safetensors
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import CLIPConfig, CLIPModel

OUT = "java/src/test/resources/lora"
BASE_DIR = OUT + "/base"

N = 3  # batch
LENGTHS = [5, 9, 16]  # tokens per row including bos and eos
BOS, EOS, PAD = 998, 999, 1
LABELS = [0, 3, 4]
NUM_CLASSES = 5
NORMALIZE_EPS = 1e-12  # F.normalize default: x / max(||x||, eps)

ADAPTER_A = dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "fc1"], lora_dropout=0.0, bias="none")
ADAPTER_B = dict(
    r=2, lora_alpha=4, use_rslora=True, lora_dropout=0.0, bias="none",
    target_modules=r"vision_model\.encoder\.layers\.\d+\.(self_attn\.(k_proj|out_proj)|mlp\.fc2)",
    rank_pattern={"fc2": 3}, alpha_pattern={"out_proj": 6})
LORA_STD = 0.3

ADAMW = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
MAX_NORM = 0.5
STEPS = 3


def clip_config():
    return CLIPConfig(
        text_config=dict(vocab_size=1000, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=16, eos_token_id=EOS, bos_token_id=BOS,
                         pad_token_id=PAD, hidden_act="quick_gelu", layer_norm_eps=1e-5),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, hidden_act="quick_gelu", layer_norm_eps=1e-5),
        projection_dim=24)


def reinit_base(model, seed):
    """Larger-than-HF init so that activations are O(1) and errors show: weights/embeddings N(0, 0.2), LayerNorm
    gamma 1 + 0.1 N(0,1), beta and linear biases 0.1 N(0,1); logit_scale untouched. Parameters are visited in sorted
    name order so the values do not depend on module definition order."""
    g = torch.Generator().manual_seed(seed)
    owner = {}
    for mname, mod in model.named_modules():
        for pname, _ in mod.named_parameters(recurse=False):
            owner[(mname + "." if mname else "") + pname] = mod
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name == "logit_scale":
                continue
            mod = owner[name]
            noise = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if isinstance(mod, torch.nn.LayerNorm):
                p.copy_(1.0 + 0.1 * noise if name.endswith(".weight") else 0.1 * noise)
            elif name.endswith(".bias"):
                p.copy_(0.1 * noise)
            else:  # Linear / Conv2d / Embedding weights, class_embedding
                p.copy_(0.2 * noise)


def load_base():
    # eager attention: the plain softmax(QK^T/sqrt(d) + mask)V path (sdpa gives the same values to ~1e-7).
    return CLIPModel.from_pretrained(BASE_DIR, attn_implementation="eager").float()


def clip_of(model):
    """The CLIPModel inside a PeftModel (LoRA layers injected in place), or the model itself."""
    return model.base_model.model if isinstance(model, PeftModel) else model


def image_embeds(model, pixel_values):
    """Projected, un-normalized image embedding: visual_projection(vision_model(...).pooler_output)."""
    m = clip_of(model)
    return m.visual_projection(m.vision_model(pixel_values=pixel_values).pooler_output)


def text_embeds(model, input_ids, attention_mask=None):
    """Projected, un-normalized text embedding at the first eos position; causal mask only unless a mask is given."""
    m = clip_of(model)
    return m.text_projection(m.text_model(input_ids=input_ids, attention_mask=attention_mask).pooler_output)


def randomize_lora(model, seed):
    """PEFT initializes lora_B to zero (a no-op adapter); replace every lora_A and lora_B by N(0, LORA_STD),
    visiting the parameters in sorted name order."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if ".lora_A." in name or ".lora_B." in name:
                p.copy_(LORA_STD * torch.randn(p.shape, generator=g, dtype=torch.float32))


def peft_key(name):
    """In-memory PeftModel parameter name -> the key PEFT writes to adapter_model.safetensors."""
    return re.sub(r"\.(lora_[AB])\.default\.", r".\1.", name)


def lora_params(model, only=None):
    """(saved key, parameter) for every LoRA parameter, in named_parameters order; `only` filters on the key."""
    out = []
    for name, p in model.named_parameters():
        if ".lora_A." in name or ".lora_B." in name:
            k = peft_key(name)
            if only is None or only(k):
                out.append((k, p))
    return out


def is_vision(key):
    return key.startswith("base_model.model.vision_model.")


def contrastive_loss(img, txt, logit_scale):
    """Spec 07 section 1: Z = exp(t) * normalize(img) @ normalize(txt)^T, mean of CE(Z) and CE(Z^T) over arange."""
    u = F.normalize(img, dim=-1, eps=NORMALIZE_EPS)
    v = F.normalize(txt, dim=-1, eps=NORMALIZE_EPS)
    z = logit_scale.exp() * u @ v.t()
    target = torch.arange(z.shape[0])
    return 0.5 * (F.cross_entropy(z, target) + F.cross_entropy(z.t(), target))


def classification_loss(img, head, labels):
    return F.cross_entropy(head(F.normalize(img, dim=-1, eps=NORMALIZE_EPS)), labels)


def save_adapter(model, name):
    """PeftModel.save_pretrained, minus the boilerplate model card (README.md) PEFT writes next to the adapter."""
    model.save_pretrained(os.path.join(OUT, name), safe_serialization=True)
    card = os.path.join(OUT, name, "README.md")
    if os.path.exists(card):
        os.remove(card)
    # PEFT keeps target_modules as a set and writes list(set): the order depends on the string hash seed of the
    # process. Sort it (no meaning to the order) so that reruns give identical bytes; same JSON layout as PEFT.
    cfg_path = os.path.join(OUT, name, "adapter_config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    if isinstance(cfg.get("target_modules"), list):
        cfg["target_modules"] = sorted(cfg["target_modules"])
        with open(cfg_path, "w") as f:
            f.write(json.dumps(cfg, indent=2, sort_keys=True))
    check(sorted(os.listdir(os.path.join(OUT, name))) == ["adapter_config.json", "adapter_model.safetensors"],
          f"{name} files")


def max_abs(a, b):
    return float((torch.as_tensor(a) - torch.as_tensor(b)).abs().max())


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def close(a, b, tol, what):
    d = max_abs(a, b)
    check(d <= tol, f"{what}: max abs diff {d:.3g} > {tol:g}")
    return d


FILES = {}  # relative path -> (shape, dtype, description) for the README


def save_npy(name, arr, desc):
    arr = np.asarray(arr)
    if arr.dtype.kind == "f" and arr.ndim > 0:
        arr = arr.astype(np.float32)
    elif arr.dtype.kind in "iu":
        arr = arr.astype(np.int32)
    np.save(os.path.join(OUT, name), arr)
    FILES[name] = (list(arr.shape), str(arr.dtype), desc)


def save_st(name, tensors, desc):
    tensors = {k: v.detach().to(torch.float32).contiguous().clone() for k, v in tensors.items()}
    save_file(tensors, os.path.join(OUT, name), metadata={"format": "pt"})
    FILES[name] = ({k: list(v.shape) for k, v in tensors.items()}, "float32", desc)


def save_scalar(name, value, desc):
    arr = np.array(float(value), dtype=np.float64)
    np.save(os.path.join(OUT, name), arr)
    FILES[name] = ([], "float64", desc)


def main():
    t0 = time.time()
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(1)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)

    # ---- 1. base model ------------------------------------------------------------------------------------------
    model = CLIPModel(clip_config())
    reinit_base(model, seed=1)
    check(abs(float(model.logit_scale.detach()) - 2.6592) < 1e-6, "logit_scale init")
    model.save_pretrained(BASE_DIR, safe_serialization=True)
    base = load_base().eval()
    sd = load_file(BASE_DIR + "/model.safetensors")
    check(all(v.dtype == torch.float32 for v in sd.values()), "base weights are float32")
    for k, v in model.state_dict().items():
        if k in sd:
            check(torch.equal(sd[k], v), f"saved base weight {k}")
    FILES["base/model.safetensors"] = (f"{len(sd)} tensors", "float32", "HF CLIPModel weights (names as in spec 01 section 2)")
    FILES["base/config.json"] = (None, None, "HF CLIPConfig")

    # ---- 2. inputs ----------------------------------------------------------------------------------------------
    rng = np.random.default_rng(2)
    pixel_values = rng.standard_normal((N, 3, 32, 32)).astype(np.float32)
    ids = np.full((N, 16), PAD, dtype=np.int64)
    mask = np.zeros((N, 16), dtype=np.int64)
    for i, n in enumerate(LENGTHS):
        ids[i, 0] = BOS
        ids[i, 1:n - 1] = rng.integers(2, 998, size=n - 2)  # 2..997
        ids[i, n - 1] = EOS
        mask[i, :n] = 1
    save_npy("pixel_values.npy", pixel_values, "images, seeded N(0,1)")
    save_npy("input_ids.npy", ids, f"token ids: bos {BOS}, ids in 2..997, eos {EOS}, pad {PAD}; lengths {LENGTHS}")
    save_npy("attention_mask.npy", mask, "1 for bos..eos, 0 for padding; NOT passed to the model (reference only)")
    pv = torch.from_numpy(pixel_values)
    input_ids = torch.from_numpy(ids)
    labels = torch.tensor(LABELS)

    with torch.no_grad():
        base_img = image_embeds(base, pv)
        base_txt = text_embeds(base, input_ids)
        # transformers 5.x: get_image_features / get_text_features return a BaseModelOutputWithPooling whose
        # pooler_output has been replaced by the projected embedding; check ours is the same thing.
        gi = base.get_image_features(pixel_values=pv)
        gt = base.get_text_features(input_ids=input_ids)
        features_kind = type(gi).__name__
        gi = gi if torch.is_tensor(gi) else gi.pooler_output
        gt = gt if torch.is_tensor(gt) else gt.pooler_output
        check(torch.equal(gi, base_img) and torch.equal(gt, base_txt), "get_*_features == projection(pooler_output)")
        # the causal mask already hides everything after eos from the eos row: the padding mask changes nothing
        masked_txt = text_embeds(base, input_ids, torch.from_numpy(mask))
        mask_diff = close(masked_txt, base_txt, 1e-5, "text embeds with vs without attention_mask")
        hf = base(input_ids=input_ids, pixel_values=pv, return_loss=True)
        base_loss = contrastive_loss(base_img, base_txt, base.logit_scale)
        close(hf.loss, base_loss, 1e-5, "HF CLIPModel loss vs spec-07 contrastive loss")
    save_npy("base_image_embeds.npy", base_img, "base model (no adapter), projected un-normalized image embeds")
    save_npy("base_text_embeds.npy", base_txt, "base model (no adapter), projected un-normalized text embeds")

    # ---- 3. adapter_a -------------------------------------------------------------------------------------------
    pm = get_peft_model(load_base(), LoraConfig(**ADAPTER_A))
    randomize_lora(pm, seed=3)
    save_adapter(pm, "adapter_a")
    saved_a = load_file(OUT + "/adapter_a/adapter_model.safetensors")
    mem_a = dict(lora_params(pm))
    check(set(saved_a) == set(mem_a), "adapter_a saved keys == in-memory LoRA names without '.default'")
    for k, v in saved_a.items():
        check(torch.equal(v, mem_a[k].detach()), f"adapter_a saved tensor {k}")
    for name, mod in pm.named_modules():
        if hasattr(mod, "scaling") and "default" in getattr(mod, "scaling", {}):
            check(abs(mod.scaling["default"] - 8 / 4) < 1e-12, f"adapter_a scaling of {name}")
    pm.eval()
    with torch.no_grad():
        a_img = image_embeds(pm, pv)
        a_txt = text_embeds(pm, input_ids)
    check(max_abs(a_img, base_img) > 0.1 and max_abs(a_txt, base_txt) > 0.1, "adapter_a changes both towers")
    save_npy("adapter_a_image_embeds.npy", a_img, "adapter_a unmerged, eval mode, projected image embeds")
    save_npy("adapter_a_text_embeds.npy", a_txt, "adapter_a unmerged, eval mode, projected text embeds")

    # reload through PeftModel.from_pretrained (the path a user takes)
    re_a = PeftModel.from_pretrained(load_base(), OUT + "/adapter_a").eval()
    with torch.no_grad():
        close(image_embeds(re_a, pv), a_img, 1e-6, "adapter_a reload image")
        close(text_embeds(re_a, input_ids), a_txt, 1e-6, "adapter_a reload text")

    q = clip_of(pm).vision_model.encoder.layers[0].self_attn.q_proj
    w0 = q.base_layer.weight.detach().clone()
    delta = 2.0 * q.lora_B["default"].weight.detach() @ q.lora_A["default"].weight.detach()
    merged = pm.merge_and_unload().eval()
    with torch.no_grad():
        m_img = image_embeds(merged, pv)
        m_txt = text_embeds(merged, input_ids)
    merge_img_diff = close(m_img, a_img, 1e-5 * max(1.0, float(a_img.abs().max())), "adapter_a merged vs unmerged image")
    merge_txt_diff = close(m_txt, a_txt, 1e-5 * max(1.0, float(a_txt.abs().max())), "adapter_a merged vs unmerged text")
    mq = merged.vision_model.encoder.layers[0].self_attn.q_proj.weight.detach()
    close(mq, w0 + delta, 1e-6, "merged q_proj == W + s*B@A")
    save_npy("adapter_a_merged_image_embeds.npy", m_img, "after merge_and_unload(), projected image embeds")
    save_npy("adapter_a_merged_text_embeds.npy", m_txt, "after merge_and_unload(), projected text embeds")
    save_npy("adapter_a_merged_vision_l0_q_proj.npy", mq,
             "merged vision_model.encoder.layers.0.self_attn.q_proj.weight = W + (8/4)*B@A, [out, in]")

    # ---- 4. adapter_b -------------------------------------------------------------------------------------------
    pb = get_peft_model(load_base(), LoraConfig(**ADAPTER_B))
    randomize_lora(pb, seed=4)
    save_adapter(pb, "adapter_b")
    saved_b = load_file(OUT + "/adapter_b/adapter_model.safetensors")
    mem_b = dict(lora_params(pb))
    check(set(saved_b) == set(mem_b), "adapter_b saved keys == in-memory LoRA names")
    check(all(is_vision(k) for k in saved_b), "adapter_b targets only the vision tower")
    scalings_b = {}
    for name, mod in pb.named_modules():
        if hasattr(mod, "scaling") and "default" in getattr(mod, "scaling", {}):
            kind = name.rsplit(".", 1)[1]
            r, alpha = {"k_proj": (2, 4), "out_proj": (2, 6), "fc2": (3, 4)}[kind]
            check(mod.r["default"] == r, f"adapter_b rank of {name}")
            check(abs(mod.scaling["default"] - alpha / math.sqrt(r)) < 1e-12, f"adapter_b rsLoRA scaling of {name}")
            scalings_b[kind] = (r, alpha, mod.scaling["default"])
    check(set(scalings_b) == {"k_proj", "out_proj", "fc2"}, "adapter_b wraps k_proj, out_proj and fc2")
    pb.eval()
    with torch.no_grad():
        b_img = image_embeds(pb, pv)
        b_txt = text_embeds(pb, input_ids)
    check(max_abs(b_img, base_img) > 0.1, "adapter_b changes the image tower")
    check(torch.equal(b_txt, base_txt), "adapter_b leaves the text tower exactly unchanged")
    re_b = PeftModel.from_pretrained(load_base(), OUT + "/adapter_b").eval()
    with torch.no_grad():
        close(image_embeds(re_b, pv), b_img, 1e-6, "adapter_b reload image")
        mb_img = image_embeds(re_b.merge_and_unload().eval(), pv)
    close(mb_img, b_img, 1e-5 * max(1.0, float(b_img.abs().max())), "adapter_b merged vs unmerged image")
    save_npy("adapter_b_image_embeds.npy", b_img, "adapter_b unmerged, eval mode, projected image embeds")
    save_npy("adapter_b_text_embeds.npy", b_txt, "adapter_b unmerged (text tower has no adapter: == base_text_embeds)")

    # ---- 5. gradients with adapter_a (train mode; all dropout probabilities are 0) -------------------------------
    ga = PeftModel.from_pretrained(load_base(), OUT + "/adapter_a", is_trainable=True).train()
    logit_scale = clip_of(ga).logit_scale
    logit_scale.requires_grad_(True)
    loss_c = contrastive_loss(image_embeds(ga, pv), text_embeds(ga, input_ids), logit_scale)
    loss_c.backward()
    grads_c = {k: p.grad for k, p in lora_params(ga)}
    check(set(grads_c) == set(saved_a), "contrastive grads cover every adapter_a tensor")
    check(all(g is not None and float(g.abs().max()) > 0 for g in grads_c.values()), "nonzero contrastive grads")
    grads_c["logit_scale"] = logit_scale.grad
    save_st("grads_contrastive.safetensors", grads_c,
            "d loss_contrastive / d (every adapter_a lora_A/lora_B, logit_scale); PEFT key names")
    save_scalar("loss_contrastive.npy", loss_c.item(), "spec 07 section 1 loss with adapter_a, float32 computation")

    g = torch.Generator().manual_seed(5)
    head = torch.nn.Linear(24, NUM_CLASSES)
    with torch.no_grad():
        head.weight.copy_(0.5 * torch.randn(head.weight.shape, generator=g))
        head.bias.copy_(0.5 * torch.randn(head.bias.shape, generator=g))
    save_st("head.safetensors", {"weight": head.weight, "bias": head.bias}, "classification head Linear(24, 5)")
    save_npy("labels.npy", np.array(LABELS), "classification labels")

    gc = PeftModel.from_pretrained(load_base(), OUT + "/adapter_a", is_trainable=True).train()
    for k, p in lora_params(gc):
        p.requires_grad_(is_vision(k))  # text-tower adapters are unused by this objective
    loss_k = classification_loss(image_embeds(gc, pv), head, labels)
    loss_k.backward()
    grads_k = {k: p.grad for k, p in lora_params(gc, is_vision)}
    check(all(g is not None for g in grads_k.values()), "classification grads present")
    grads_k["head.weight"] = head.weight.grad
    grads_k["head.bias"] = head.bias.grad
    save_st("grads_classification.safetensors", grads_k,
            "d loss_classification / d (vision-tower adapter_a lora_A/lora_B, head.weight, head.bias)")
    save_scalar("loss_classification.npy", loss_k.item(), "CE(head(normalize(image_embeds)), labels), mean")

    # ---- 6. AdamW trajectory on the classification objective ------------------------------------------------------
    tm = PeftModel.from_pretrained(load_base(), OUT + "/adapter_a", is_trainable=True).train()
    for k, p in lora_params(tm):
        p.requires_grad_(is_vision(k))
    thead = torch.nn.Linear(24, NUM_CLASSES)
    hs = load_file(OUT + "/head.safetensors")
    with torch.no_grad():
        thead.weight.copy_(hs["weight"])
        thead.bias.copy_(hs["bias"])
    named = lora_params(tm, is_vision) + [("head.weight", thead.weight), ("head.bias", thead.bias)]
    params = [p for _, p in named]
    opt = torch.optim.AdamW(params, **ADAMW)
    losses, norms = [], []
    for t in range(1, STEPS + 1):
        opt.zero_grad(set_to_none=True)
        loss = classification_loss(image_embeds(tm, pv), thead, labels)
        loss.backward()
        losses.append(loss.item())
        norms.append(float(torch.nn.utils.clip_grad_norm_(params, max_norm=MAX_NORM)))
        opt.step()
        save_st(f"traj_step{t}.safetensors", {k: p for k, p in named},
                f"trainable state after AdamW step {t} (vision adapter_a LoRA + head)")
    check(abs(losses[0] - loss_k.item()) < 1e-6, "trajectory starts from the saved state")
    check(all(n > MAX_NORM for n in norms), "clipping is active at every step")
    save_npy("traj_losses.npy", np.array(losses, dtype=np.float32), "loss before each step t = 1..3 (float32)")
    save_npy("traj_grad_norms.npy", np.array(norms, dtype=np.float32),
             "total L2 grad norm over all trainable params before clipping, per step (clip_grad_norm_ return value)")

    # ---- 7. versions + README -------------------------------------------------------------------------------------
    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "transformers": transformers.__version__, "peft": peft.__version__,
                "safetensors": safetensors.__version__, "numpy": np.__version__}
    with open(os.path.join(OUT, "versions.json"), "w") as f:
        json.dump(versions, f, indent=2, sort_keys=True)
        f.write("\n")
    FILES["versions.json"] = (None, None, "library versions of the run that wrote these files")
    FILES["adapter_a/adapter_config.json"] = (None, None, "PEFT LoraConfig of adapter_a")
    FILES["adapter_a/adapter_model.safetensors"] = (
        {k: list(v.shape) for k, v in sorted(saved_a.items())}, "float32", "adapter_a LoRA tensors")
    FILES["adapter_b/adapter_config.json"] = (None, None, "PEFT LoraConfig of adapter_b")
    FILES["adapter_b/adapter_model.safetensors"] = (
        {k: list(v.shape) for k, v in sorted(saved_b.items())}, "float32", "adapter_b LoRA tensors")
    write_readme(versions, features_kind, scalings_b, norms, losses,
                 dict(mask=mask_diff, merge_img=merge_img_diff, merge_txt=merge_txt_diff))

    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    check(total < 1_500_000, f"fixture folder is {total} bytes")
    print(json.dumps(versions))
    print(f"wrote {OUT}: {total} bytes in {time.time() - t0:.1f} s")


def write_readme(versions, features_kind, scalings_b, norms, losses, diffs):
    def fmt_shape(s):
        if s is None:
            return ""
        if isinstance(s, str):
            return s
        if isinstance(s, dict):
            return "<br>".join(f"`{k}` {v}" for k, v in s.items()) if len(s) <= 6 else f"{len(s)} tensors (below)"
        return str(s)

    rows = []
    for name in sorted(FILES):
        shape, dtype, desc = FILES[name]
        rows.append(f"| `{name}` | {fmt_shape(shape)} | {dtype or ''} | {desc} |")

    def key_list(fname):
        shapes = FILES[fname][0]
        return "\n".join(f"    {k} {v}" for k, v in sorted(shapes.items()))

    sb = "; ".join(f"{k}: r={r}, alpha={a}, s=alpha/sqrt(r)={s:.6f}" for k, (r, a, s) in sorted(scalings_b.items()))
    text = f"""# LoRA reference fixtures

Written by `models/scripts/make_lora_fixtures.py` (run from the repository root:
`python models/scripts/make_lora_fixtures.py`; it deletes and rewrites this folder). CI never runs it.

Versions (also in `versions.json`): torch {versions['torch']}, transformers {versions['transformers']},
peft {versions['peft']}, safetensors {versions['safetensors']}, numpy {versions['numpy']},
Python {versions['python']}. CPU, float32, `torch.set_num_threads(1)`, eager attention.

## Conventions

- **Base model** (`base/`): a tiny `CLIPModel`. Vision: image 32, patch 8 (16 patches + class token), hidden 32,
  MLP 64, 2 layers, 4 heads. Text: vocab 1000, hidden 32, MLP 64, 2 layers, 4 heads, 16 positions, bos 998,
  eos 999, pad 1. projection_dim 24, `quick_gelu`, LayerNorm eps 1e-5. The sub-configs keep transformers'
  default `projection_dim` 512; only the top-level `projection_dim` (24) is used by `CLIPModel`.
  Weights are re-initialized (seeded) with a larger scale than HF's init so activations are O(1): linear / conv /
  embedding weights and `class_embedding` N(0, 0.2); LayerNorm gamma 1 + 0.1·N(0,1), beta 0.1·N(0,1); linear
  biases 0.1·N(0,1). `logit_scale` = 2.6592 (float32), HF's `logit_scale_init_value`.
- **Text input**: `input_ids` are passed **without an attention_mask** (causal mask only), as CLIP was trained and
  as the runtime runs it. Pooling is at the first `eos` (999) position (the config's eos is not 2, so HF uses
  `argmax(ids == eos)`). `attention_mask.npy` is only for reference; the script checks that passing it changes the
  text embeddings by at most {diffs['mask']:.2g} (the eos row never sees the padding through the causal mask).
- **Embeddings** (`*_image_embeds.npy`, `*_text_embeds.npy`, [3, 24]): projected and **not** normalized, i.e.
  `visual_projection(vision_model(pixel_values).pooler_output)` and
  `text_projection(text_model(input_ids).pooler_output)`, computed explicitly on the CLIPModel inside the
  PeftModel. In this transformers version `get_image_features` / `get_text_features` return a
  `{features_kind}` whose `pooler_output` has been replaced by the projected embedding (not a tensor); the script
  checks that it equals the explicit computation bit for bit.
- **Adapter folders** hold exactly PEFT's `adapter_config.json` + `adapter_model.safetensors` (the model card
  PEFT also writes is deleted). `base_model_name_or_path` is `java/src/test/resources/lora/base`, i.e. `base/`
  relative to the repository root; the Java side should load `base/` itself rather than trust that string. PEFT
  writes `target_modules` from a set (order varies run to run with Python's hash seed); the script sorts that list.
- **LoRA init**: PEFT initializes `lora_B` to zero (a no-op). Here every `lora_A` and `lora_B` is overwritten with
  N(0, 0.3), seeded, in sorted parameter-name order, before saving. Outputs are computed in eval mode, unmerged,
  except the `*_merged_*` files (after `merge_and_unload()`; merged vs unmerged differ by
  {max(diffs['merge_img'], diffs['merge_txt']):.2g} here).
- **adapter_a**: `LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj","v_proj","fc1"], lora_dropout=0.0,
  bias="none")` on the whole CLIPModel, so both towers: scaling s = 8/4 = 2 everywhere.
- **adapter_b**: `target_modules` is one regex string (`re.fullmatch` on the module path) selecting only the
  vision tower's `self_attn.k_proj`, `self_attn.out_proj` and `mlp.fc2`; `r=2, lora_alpha=4, use_rslora=True,
  rank_pattern={{"fc2": 3}}, alpha_pattern={{"out_proj": 6}}`. PEFT's per-module values: {sb}.
  The text tower has no adapter, so `adapter_b_text_embeds.npy` equals `base_text_embeds.npy` exactly.
- **Normalization** in the losses: `F.normalize(x, dim=-1, eps=1e-12)` = x / max(‖x‖, 1e-12). (HF's own
  `CLIPModel.forward` divides by the plain norm; the script checks its loss equals ours to 1e-5.)
- **Gradients** (train mode; every dropout probability is 0, so train == eval forward). Keys are PEFT's saved key
  names (`base_model.model.<module path>.lora_A.weight` / `.lora_B.weight`, adapter name removed, exactly the keys
  of `adapter_model.safetensors`), plus `logit_scale` (a 0-d tensor, like in `base/model.safetensors`) or
  `head.weight` / `head.bias`. Base weights are frozen.
  - contrastive (spec 07 §1): Z = exp(logit_scale)·normalize(img)·normalize(txt)ᵀ (rows = images),
    loss = ½[CE(Z, arange(3)) + CE(Zᵀ, arange(3))] with mean reduction; `logit_scale` is trainable.
  - classification: logits = head(normalize(image_embeds)) with `head.safetensors` (Linear(24, 5): weight [5, 24],
    bias [5], seeded N(0, 0.5)), loss = `cross_entropy(logits, labels)` mean, labels {LABELS}. Only the
    vision-tower adapters (and the head) get gradients.
  - losses are scalar float64 `.npy` files holding the float32 result.
- **Trajectory**: starting from the saved adapter_a + head, trainable = the vision-tower adapter_a LoRA tensors +
  head.weight + head.bias (one param group; weight decay applies to all of them, head.bias included). Each step t:
  zero grads, forward, loss (→ `traj_losses.npy[t-1]`, the loss *before* step t), backward,
  `torch.nn.utils.clip_grad_norm_(params, max_norm=0.5)` (norm_type 2; the norm is the L2 norm over **all**
  trainable tensors together, LoRA and head; the grads are multiplied by min(1, 0.5/(norm + 1e-6))), then
  `torch.optim.AdamW(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)` (PyTorch defaults otherwise:
  amsgrad False, decoupled decay p ← p·(1 − lr·wd) before the Adam update, bias-corrected moments,
  p ← p − lr/(1−β₁ᵗ)·m / (√v/√(1−β₂ᵗ) + eps)). The pre-clip norms were {', '.join(f'{n:.4f}' for n in norms)}
  (`traj_grad_norms.npy`), so clipping is active at every step. The parameter order does not matter for AdamW or
  the clip norm. Losses: {', '.join(f'{x:.6f}' for x in losses)}.

## Files

| file | shape | dtype | content |
|---|---|---|---|
{chr(10).join(rows)}

`adapter_a/adapter_model.safetensors` keys (same keys in `grads_contrastive.safetensors`, plus `logit_scale`):

{key_list('adapter_a/adapter_model.safetensors')}

`adapter_b/adapter_model.safetensors` keys:

{key_list('adapter_b/adapter_model.safetensors')}

`grads_classification.safetensors` and `traj_step{{1,2,3}}.safetensors` keys:

{key_list('grads_classification.safetensors')}
"""
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
