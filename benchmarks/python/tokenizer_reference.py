"""Reference tokenizer throughput for FrontEndBenchmark.clipBpeGoldenTexts: the 200 golden texts through Hugging Face's
CLIPTokenizerFast (Rust, batch encode over all cores; NFC-only cleaning, so it does less work than OpenAI's ftfy
pipeline) and the slow CLIPTokenizer (Python, ftfy when installed), padded to 77, best of 5 runs.

Requirements: python 3.11, transformers, tokenizers (no network: the golden vocab.json/merges.txt are used).
    python benchmarks/python/tokenizer_reference.py ../shared/golden/tokenizer
"""
import json
import os
import sys
import time

from transformers import CLIPTokenizer, CLIPTokenizerFast

d = sys.argv[1] if len(sys.argv) > 1 else "../shared/golden/tokenizer"
texts = [r["text"] for r in json.load(open(os.path.join(d, "cases.json")))["records"]]
slow = CLIPTokenizer(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt"))
fast = CLIPTokenizerFast(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt"))
for name, tok in (("CLIPTokenizerFast (Rust)", fast), ("CLIPTokenizer (Python)", slow)):
    tok(texts, padding="max_length", max_length=77, truncation=True)  # warm caches
    best = 1e9
    for _ in range(5):
        t0 = time.perf_counter()
        tok(texts, padding="max_length", max_length=77, truncation=True)
        best = min(best, time.perf_counter() - t0)
    print(f"{name}: {len(texts) / best:,.0f} texts/s on the {len(texts)} golden texts ({os.cpu_count()} cores)")
