"""Writes the WordPiece test fixture: a small vocabulary and, for a set of texts, the ids of Hugging Face's slow
BertTokenizer (the reference for io.vlm4j.text.BertTokenizer). Never needed by CI: the output is committed.

Requirements: python 3.11 with transformers (any 4.x/5.x).
    python models/scripts/gen_wordpiece_fixture.py java/src/test/resources/io/vlm4j/text/wordpiece
"""
import json
import os
import sys

from transformers import BertTokenizer

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
words = ["chest", "x", "ray", "show", "##ing", "pneumonia", "pneu", "##monia", "un", "##want", "##ed", "runn", "##ing",
         "aff", "##aff", "##able", "the", "a", "of", "cafe", "naive", "resume", "tumor", "##s", "lesion", "le", "##sion",
         "benign", "malignant", "mri", "ct", "scan", "brain", "光", "片", "肺", "炎", "胸", "部", "##a", "##b", "##c", "b", "c",
         "hello", "world", "2", "0", "##0", "##2", "##4", "4", "covid", "-", "19", "1", "9", "##9", "zurich", "sao", "paulo"]
punct = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["«", "»", "—", "–", "…", "¿", "¡", "·"]
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(words + punct) - {"-"}) + ["-"]
with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
    f.write("\n".join(vocab) + "\n")
tok = BertTokenizer(os.path.join(out, "vocab.txt"), do_lower_case=True)
texts = [
    "a chest x-ray showing pneumonia", "UNwant\u00e9d,running", "unaffable", "Caf\u00e9 na\u00efve r\u00e9sum\u00e9",
    "Z\u00fcrich S\u00e3o Paulo", "\u80f8\u90e8X\u5149\u7247\u663e\u793a\u80ba\u708e", "covid-19 (2024)!!", "hello\tworld\nthe  end",
    "[CLS] tumor [SEP] lesion", "a [MASK] of the brain", "tumors and lesions?", "benign\u00a0malignant", "mri\u200bct scan",
    "ctrl\u0007char\u0000s", "x" * 101, "a" + "b" * 99, "\u00abguillemets\u00bb \u2014 dash \u2026", "\u00bfqu\u00e9? \u00a1s\u00ed!",
    "$5 + 3 = 8 ^ 2 < 9", "`code` {braces} [brackets] |pipe| ~tilde~", "emoji \U0001F642 face", "\u0130stanbul",
    "MIXED case Words", "", "   ", "le sion lesion lesions", "\u00c5ngstr\u00f6m", "pneu##monia", "##ing alone",
]
cases = []
for t in texts:
    cases.append({"text": t, "ids": tok.convert_tokens_to_ids(tok.tokenize(t)),
                  "ids_16": tok(t, padding="max_length", truncation=True, max_length=16)["input_ids"]})
with open(os.path.join(out, "cases.json"), "w", encoding="utf-8") as f:
    json.dump({"reference": "transformers BertTokenizer (slow), do_lower_case=True", "cases": cases}, f, ensure_ascii=False, indent=1)
print("wrote", len(cases), "cases and", len(vocab), "tokens to", out)
