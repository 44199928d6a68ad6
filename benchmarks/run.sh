#!/usr/bin/env bash
# The CPU results pipeline in one command: runs the JMH suite (ops at ViT-B/16 shapes with OpenBLAS sgemm beside them,
# the image and text towers, and ONNX Runtime on the same weights when the exported models exist) and writes
# benchmarks/results/<date>-<machine>.{md,json,png} (medians, spread, GFLOP/s, fraction of the sgemm peak measured in
# the same run, ours / OpenBLAS, ours / ONNX Runtime).
#   bash benchmarks/run.sh [MACHINE]            e.g. bash benchmarks/run.sh xeon-2c
# Environment: ARCHS (default "ViT-B/16,ViT-B/32"), BATCHES (default "1,8,32"), ONNX_DIR (default /tmp/vlm4j-onnx:
# the output of benchmarks/onnx/export_clip.py; the ONNX comparison runs at batch 8 for each arch exported there),
# JMH_TIME (seconds per iteration, default 3), PYTHON (a python with torch for exporting, default python3), DTYPES
# (vlm4j precisions, default "fp32,bf16"; bf16 needs AVX512_BF16, AMX when available).
set -euo pipefail
cd "$(dirname "$0")/.."
machine=${1:-$(sed -n 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1 | tr -cs 'A-Za-z0-9' '-' | cut -c1-24)$(nproc)c}
archs=${ARCHS:-ViT-B/16,ViT-B/32}
batches=${BATCHES:-1,8,32}
onnx=${ONNX_DIR:-/tmp/vlm4j-onnx}
t=${JMH_TIME:-3}
grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null && dtypes=${DTYPES:-fp32,bf16} || dtypes=${DTYPES:-fp32}
[ -f benchmarks/target/benchmarks.jar ] || mvn -B -q package -DskipTests
jar=benchmarks/target/benchmarks.jar
mkdir -p target
py=${PYTHON:-python3}
onnx_models=()
for a in ${archs//,/ }; do
  slug=${a//\//-}
  if [ ! -f "$onnx/$slug/vision.onnx" ] && "$py" -c "import torch, transformers, onnx" 2>/dev/null; then
    "$py" benchmarks/onnx/export_clip.py --arch "$a" --out "$onnx" >&2 || true
  fi
  [ -f "$onnx/$slug/vision.onnx" ] && onnx_models+=("$onnx/$slug")
done
results=target/jmh-results.json
train_results=target/jmh-train.json
args=(-w "${t}s" -r "${t}s" -wi 2 -i 5 -f 1 -rf json -rff "$results")
if [ ${#onnx_models[@]} -gt 0 ]; then
  models=$(IFS=,; echo "${onnx_models[*]}")
  java -jar "$jar" "OpBenchmark|SgemmBenchmark|TowerBenchmark|OnnxComparisonBenchmark" "${args[@]}" \
    -p arch="$archs" -p batch="$batches" -p model="$models" -p threads="$(nproc)" -p tower=image,text -p dtype="$dtypes" >&2
  java -jar "$jar" "LoraTrainBenchmark" "${args[@]/$results/$train_results}" -p arch=ViT-B/16 -p batch=8 -p checkpointing=false,true >&2
else
  echo "note: no ONNX exports under $onnx (and no python with torch/transformers/onnx): ONNX Runtime not compared" >&2
  java -jar "$jar" "OpBenchmark|SgemmBenchmark|TowerBenchmark" "${args[@]}" -p arch="$archs" -p batch="$batches" \
    -p dtype="$dtypes" >&2
  java -jar "$jar" "LoraTrainBenchmark" "${args[@]/$results/$train_results}" -p arch=ViT-B/16 -p batch=8 -p checkpointing=false,true >&2
fi
# one JSON for the report: the suite's and the training step's results side by side
python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])) + json.load(open(sys.argv[2]))))' "$results" "$train_results" > target/jmh-all.json
results=target/jmh-all.json
java -cp "$jar" io.vlm4j.bench.ResultsReport "$results" benchmarks/results "$machine" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
