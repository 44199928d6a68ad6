"""Turns the JSON lines of run.sh (vlm4j bench --json and torch_reference.py) into one markdown table per tower:
throughput per engine/dtype and batch, and each engine's ratio to vlm4j. Standard library only.
    python benchmarks/gpu/table.py gpu-results/throughput.jsonl
"""
import json
import sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
for tower, key in (("vision", "images_per_s"), ("text", "texts_per_s")):
    cells = defaultdict(dict)
    batches = set()
    for r in rows:
        if r.get("tower") != tower or key not in r:
            continue
        name = f'{r.get("engine", "vlm4j")} {r.get("dtype", "")}{" graphs" if r.get("graphs") else ""}'.strip()
        cells[name][r["batch"]] = r[key]
        batches.add(r["batch"])
    if not cells:
        continue
    bs = sorted(batches)
    ours = next((n for n in sorted(cells) if n.startswith("vlm4j") and "bf16" in n), None) or next(
        (n for n in sorted(cells) if n.startswith("vlm4j")), None)
    print(f"\n{tower} tower ({key})\n")
    print("| engine | " + " | ".join(f"batch {b}" for b in bs) + " |")
    print("|---|" + "---|" * len(bs))
    for name in sorted(cells):
        vals = []
        for b in bs:
            v = cells[name].get(b)
            ratio = "" if ours is None or name == ours or v is None or cells[ours].get(b) is None else f" ({cells[ours][b] / v:.2f}x)"
            vals.append("-" if v is None else f"{v:.1f}{ratio}")
        print(f"| {name} | " + " | ".join(vals) + " |")
    if ours:
        print(f"\n(x) = {ours} throughput / that engine's")
