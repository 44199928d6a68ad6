#!/usr/bin/env python3
"""Writes the Hugging Face reference outputs that BertTokenizerTest / BertFixtureTest compare against.

Requirements: Python 3.10+, transformers 5.x and tokenizers 0.2x (tested with transformers 5.17.0,
tokenizers 0.23.2). Only needed to regenerate the committed files; the Java build never runs Python.

Run from the repository root:
    python models/scripts/make_bert_fixture.py

Reads  java/src/test/resources/io/vlm4j/text/bert/vocab.txt (a small hand-made vocabulary)
Writes java/src/test/resources/io/vlm4j/text/bert/hf_expected.json
       java/src/test/resources/io/vlm4j/text/bert/hf-uncased/{tokenizer.json,tokenizer_config.json}

The reference is transformers' BertTokenizer, which in transformers 5 is the Rust `tokenizers` pipeline
(BertNormalizer + BertPreTokenizer + WordPiece) that AutoTokenizer / open_clip's HFTokenizer also use.
For each case the older pure-Python tokenizer (BertTokenizerLegacy) is run too; where it disagrees its ids are
recorded under "legacy_ids" so the known differences stay visible (NFC, final sigma, one CJK range).
"""
import json
import os
import sys

import tokenizers
import transformers
from transformers import BertTokenizer
from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

HERE = "java/src/test/resources/io/vlm4j/text/bert"
CONTEXT = 12

CONFIGS = [
    # name, do_lower_case, strip_accents, tokenize_chinese_chars
    ("uncased", True, None, True),
    ("cased", False, None, True),
    ("lowercase_keep_accents", True, False, True),
    ("cased_strip_accents_no_cjk", False, True, False),
]

TEXTS = [
    "unaffable",
    "UNwant\u00e9d,running",
    "Hello, world!",
    "hello world",
    "  leading and trailing  ",
    "",
    "   ",
    "chest x-ray",
    "Chest X-Ray shows pneumonia.",
    "\u4e2d\u56fd\u4eba",
    "\u533b\u9662a\u4e2db",
    "\ud55c\uad6d\uc5b4",
    "\u3072\u3089\u304c\u306a",
    "Caf\u00e9 r\u00e9sum\u00e9 na\u00efve \u00dcber",
    "e\u0301",
    "\u0130stanbul",
    "\u039f\u0394\u039f\u03a3",
    "\u00df \u1e9e",
    "\ufb01le",
    "tab\there\nnew\r\nline",
    "nul\u0000char\ufffdrep",
    "zero\u200bwidth\u00adsoft",
    "nbsp\u00a0here\u3000ideo\u2028ls\u2029ps",
    "ctrl\u0007bell\u001fus\u0085nel\u000bvt\u000cff",
    "$100 ^ `tick` + <a=b> ~|",
    "\u00bfQu\u00e9? \u00a1S\u00ed! \u00abquote\u00bb \u2014 dash\u2026 ellipsis \u2019apos\u2019 \u201cdq\u201d",
    "a[CLS]b",
    "[CLS] [SEP] [PAD] [MASK] [UNK]",
    "[cls] [Sep]",
    "[CLS][SEP]",
    "x" * 101,
    "x" * 100,
    "xyzzy",
    "unwantedxyz",
    "running runner runs",
    "1990s covid-19 2020",
    "emoji \U0001f600 here",
    "x\U0002b820x x\U0002b920x",
    "a\u0378b",
    "private\ue000use",
    "the tumor cells in the lung image are cancerous and the scan shows it",
    "U.S.A.",
    "don't can't",
    "e-mail@example.com",
    "path/to/file_name.txt",
    "(parenthesized) [bracketed] {braced}",
    "MRI & CT scans: 50% better",
    "\u216b roman numeral",
    "x\u00b2",
    "\uff41\uff42\uff43 fullwidth",
    "Tumor\u0301ous",
    "\u00c5ngstr\u00f6m",
    "\u65e5\u672c\u8a9e\u30c6\u30ad\u30b9\u30c8",
    "\U0001f970 new emoji",
    "hello[MASK]world",
    "[MASK]ed",
    "#hashtag @mention",
    "emdash\u2014between",
]


def main():
    with open(os.path.join(HERE, "vocab.txt"), encoding="utf-8") as f:
        tokens = f.read().split("\n")[:-1]
    vocab = {t: i for i, t in enumerate(tokens)}
    assert len(vocab) == len(tokens), "duplicate token in vocab.txt"

    out = {
        "generator": f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}",
        "vocab": "vocab.txt",
        "context": CONTEXT,
        "configs": [],
    }
    differ = 0
    for name, lower, strip, cjk in CONFIGS:
        fast = BertTokenizer(vocab=dict(vocab), do_lower_case=lower, strip_accents=strip, tokenize_chinese_chars=cjk)
        legacy = BertTokenizerLegacy(os.path.join(HERE, "vocab.txt"), do_lower_case=lower, strip_accents=strip,
                                     tokenize_chinese_chars=cjk)
        cases = []
        for text in TEXTS:
            ids = fast(text, add_special_tokens=False)["input_ids"]
            enc = fast(text, max_length=CONTEXT, truncation=True, padding="max_length")
            case = {
                "text": text,
                "tokens": fast.convert_ids_to_tokens(ids),
                "ids": ids,
                "encoded": enc["input_ids"],
                "mask": enc["attention_mask"],
            }
            old = legacy(text, add_special_tokens=False)["input_ids"]
            if old != ids:
                case["legacy_ids"] = old
                differ += 1
            cases.append(case)
        out["configs"].append({"name": name, "lowercase": lower, "strip_accents": strip,
                               "tokenize_chinese_chars": cjk, "cases": cases})
        if name == "uncased":
            fast.save_pretrained(os.path.join(HERE, "hf-uncased"))

    with open(os.path.join(HERE, "hf_expected.json"), "w", encoding="ascii") as f:
        json.dump(out, f, ensure_ascii=True, indent=1)
        f.write("\n")
    n = len(CONFIGS) * len(TEXTS)
    print(f"{n} cases written; the legacy Python tokenizer differs on {differ}", file=sys.stderr)


if __name__ == "__main__":
    main()
