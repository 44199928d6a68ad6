#!/usr/bin/env bash
# GPU check, one call on the GPU machine (see the device notes in DEVELOPERS.md): builds the CUDA kernels and their
# harnesses with the machine's nvcc, runs every harness (correctness vs a CPU reference, then timings; among them the
# training kernels: cuda/build/dev/attention_backward, the attention backward vs float64 with its TFLOP/s, and
# cuda/build/dev/train, LayerNorm/activation/L2 backward, dropout, AdamW), and asks the Java library what it sees. Results go to $OUT (or ./gpu-results) with device, date and commit.
#   run from the repository root:  bash benchmarks/gpu/run.sh
# Needs: nvcc, make, g++; for the Java part dist/ from benchmarks/gpu/prepare.sh (a jlinked JRE and the slim jar),
# carried to the machine: run(command="bash benchmarks/gpu/run.sh", carry=["dist"]).
# The CUDA backend's self-test (`vlm4j check --backend cuda`: every op vs the float64 reference, small random CLIP,
# BiomedCLIP-style timm + BERT and SigLIP models with their LoRA gradients vs the CPU backend, golden tiny model)
# runs when dist/ holds the JRE and jar (FP32, then BF16 and FP16 with CUDA graphs), then the ViT-B/16 image and text
# tower throughput table against PyTorch (HF transformers: eager, SDPA and SDPA + torch.compile; BF16 and FP32) at batch
# 1, 8, 64, 256 (benchmarks/gpu/torch_reference.py, table.py), and the embeddings of one seeded HF model checked against
# PyTorch's (FP32 within 1e-4, BF16 within 2e-2 relative, cosine >= 0.999).
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-gpu-results}"
mkdir -p "$out"
log="$out/gpu-check.txt"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || cat COMMIT 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 || echo "nvidia-smi: not available"
  nvcc --version | tail -1
} | tee "$log"
status=0
make -C cuda -j"$(nproc)" BUILD=build all dev 2>&1 | tail -3 | tee -a "$log" || status=1
for h in cuda/build/dev/*; do
  [ -x "$h" ] || continue
  echo "== $h" | tee -a "$log"
  "$h" 2>&1 | tee -a "$log" || status=1
done
# our GEMM vs cuBLAS (JavaCPP presets, bench-gemm) on the ViT-B/16 linear shapes. cuBLAS 13 and libcudart.so.13 from
# PyTorch's pip packages (nvidia/cu13/lib; older layout nvidia/cublas/lib) or the toolkit; exit 2 (no GPU, no cuBLAS)
# is logged and does not fail the run, exit 1 (outputs disagree) does.
cudalibs=$(python3 -c 'import glob, nvidia; print(",".join(sorted({f.rsplit("/", 1)[0] for p in nvidia.__path__ for n in ("libcublas.so.13", "libcublasLt.so.13", "libcudart.so.13") for f in glob.glob(p + "/**/" + n, recursive=True)})))' 2>/dev/null)
cudalibs=${cudalibs:-/usr/local/cuda/lib64}
if [ -x dist/jre/bin/java ] && [ -f dist/vlm4j.jar ]; then
  for dt in bf16 fp16; do
    dist/jre/bin/java -jar dist/vlm4j.jar bench-gemm --backend cuda --dtype "$dt" --cuda-lib-dir "$cudalibs" 2>&1 | tee -a "$log"
    [ "${PIPESTATUS[0]}" = 1 ] && status=1
  done
fi
if [ -x dist/jre/bin/java ] && [ -f dist/vlm4j.jar ]; then
  dist/jre/bin/java -Dorg.bytedeco.javacpp.platform.preloadpath="${cudalibs//,/:}" -jar dist/vlm4j.jar info 2>&1 | tee -a "$log"
  # every op of the CUDA backend vs the float64 reference, a random small CLIP end to end vs the CPU backend, and
  # the golden tiny model when its files came along (20 MB: usually over the device tool's carry limit beside dist/)
  golden=""
  for g in shared/golden ../shared/golden dist/golden; do [ -d "$g/fixtures/tiny" ] && golden="--golden $g" && break; done
  dist/jre/bin/java -jar dist/vlm4j.jar check --backend cuda --graphs $golden 2>&1 | tee -a "$log" || status=1
  # the same in BF16 and FP16 (tolerance 1e-2 relative, cosine >= 0.999), and through CUDA graphs
  for dt in bf16 fp16; do
    dist/jre/bin/java -jar dist/vlm4j.jar check --backend cuda --dtype "$dt" --graphs $golden 2>&1 | tee -a "$log" || status=1
  done
  # throughput table: vlm4j (CUDA backend: BF16 with and without CUDA graphs, FP32 checking path) and PyTorch below
  : > "$out/throughput.jsonl"
  for tower in vision text; do
    for b in 1 8 64 256; do
      for variant in "bf16 --graphs" "bf16" "fp32"; do
        set -- $variant
        dist/jre/bin/java -jar dist/vlm4j.jar bench --backend cuda --dtype "$1" ${2:-} --arch ViT-B/16 --tower "$tower" \
          --batch "$b" --iterations 10 --json 2>>"$log" | sed 's/^{/{"engine": "vlm4j-cuda", /' >> "$out/throughput.jsonl" || status=1
      done
    done
  done
fi
if python3 -c "import torch, transformers" 2>/dev/null; then
  for dt in bf16 fp32; do
    python3 benchmarks/gpu/torch_reference.py --arch ViT-B/16 --batches 1,8,64,256 --dtype "$dt" --device cuda \
      2>>"$log" >> "$out/throughput.jsonl" || status=1
  done
  python3 benchmarks/gpu/table.py "$out/throughput.jsonl" | tee "$out/throughput.md" | tee -a "$log"
  # outputs checked: the same seeded HF model and inputs through PyTorch (FP32 eager) and vlm4j's CUDA backend
  if [ -x dist/jre/bin/java ] && [ -f dist/vlm4j.jar ]; then
    chk="$out/agreement"
    python3 benchmarks/gpu/torch_reference.py --arch ViT-B/16 --save-check "$chk" --device cuda 2>>"$log" || status=1
    for dt in fp32 bf16; do
      dist/jre/bin/java -jar dist/vlm4j.jar encode-images --model "$chk/model" --pixels "$chk/pixels.npy" --out "$chk/ours_image_$dt.npy" \
        --backend cuda --dtype "$dt" 2>>"$log" || status=1
      dist/jre/bin/java -jar dist/vlm4j.jar encode-texts --model "$chk/model" --ids "$chk/ids.npy" --out "$chk/ours_text_$dt.npy" \
        --backend cuda --dtype "$dt" 2>>"$log" || status=1
    done
    python3 - "$chk" <<'PY' 2>&1 | tee -a "$log" || status=1
import sys, numpy as np
d = sys.argv[1]
bad = False
for tower in ("image", "text"):
    ref = np.load(f"{d}/torch_{tower}.npy").astype(np.float64)
    for dt, tol in (("fp32", 1e-4), ("bf16", 2e-2)):
        ours = np.load(f"{d}/ours_{tower}_{dt}.npy").astype(np.float64)
        rel = np.abs(ours - ref).max() / np.abs(ref).max()
        cos = (ours * ref).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
        ok = rel <= tol and cos.min() >= 0.999
        bad |= not ok
        print(f"agreement vs PyTorch FP32: {tower} {dt}: max rel diff {rel:.2e} (tol {tol}), min cosine {cos.min():.6f} {'ok' if ok else 'FAIL'}")
sys.exit(1 if bad else 0)
PY
  fi
fi
exit $status
