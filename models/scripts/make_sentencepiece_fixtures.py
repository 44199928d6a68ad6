#!/usr/bin/env python3
"""Trains two small SentencePiece unigram models and writes the reference ids that SentencePieceTokenizerTest compares
against.

Requirements (run in a virtual environment): Python 3.10+, sentencepiece 0.2.x, transformers 5.17 with protobuf
(tested with sentencepiece 0.2.2, transformers 5.17.0, tokenizers 0.23.2, protobuf 7.36). Optional: ftfy 6.x, to
also record what open_clip's SigLIP text cleaning + T5TokenizerFast give (only recorded where it differs; the Java
tokenizer follows Hugging Face's SiglipTokenizer). Only needed to regenerate the committed files; the Java build
never runs Python.

Run from the repository root:
    python models/scripts/make_sentencepiece_fixtures.py

Writes java/src/test/resources/sentencepiece/
    spiece.model           SigLIP-like: unigram, nmt_nfkc (the precompiled charsmap is embedded), T5's special ids
                           (pad <pad>=0, eos </s>=1, unk <unk>=2, no bos), add_dummy_prefix, no byte fallback
    tokenizer_config.json  SiglipTokenizer, do_lower_case, model_max_length 64, pad = eos = </s>
    cases.json             per text: "spm" (raw SentencePieceProcessor.encode_as_ids, no SigLIP preparation),
                           "tokens" (SiglipTokenizer.tokenize), "ids"/"mask" (padding="max_length", truncation,
                           max_length 64) and "ids_8"/"mask_8" (max_length 8); plus the variants' ids where they differ
    bytefallback/spiece.model  unigram, identity normalization (no charsmap), byte_fallback, user-defined symbols,
                           add_dummy_prefix and remove_extra_whitespaces off
    bytefallback/cases.json    per text: "spm" ids and "pieces", and SiglipTokenizer's (defaults) "tokens" and
                           "ids_16"/"mask_16"
    handmade/spiece.model  a hand-built unigram model (identity normalization) whose scores make ties, float
                           rounding, UNUSED and USER_DEFINED pieces matter
    handmade/cases.json    per text: "spm" ids and "pieces"
"""
import io
import json
import os
import sys

import sentencepiece as spm
import transformers
from transformers import SiglipTokenizer

OUT = "java/src/test/resources/sentencepiece"

# Training text: English captions and radiology-style sentences, with some accented, full-width and other
# characters that the nmt_nfkc charsmap rewrites (full-width letters, ligatures, odd spaces, circled digits).
BASE = [
    "A chest X-ray showing pneumonia in the right lower lobe.",
    "Frontal chest radiograph with no acute cardiopulmonary abnormality.",
    "There is a small left pleural effusion with adjacent atelectasis.",
    "The heart size is normal and the lungs are clear.",
    "Mild cardiomegaly with pulmonary vascular congestion.",
    "An axial CT image of the abdomen shows a hypodense lesion in the liver.",
    "MRI of the brain demonstrates no acute infarct or hemorrhage.",
    "Histopathology slide stained with hematoxylin and eosin.",
    "A photo of a dog playing in the park on a sunny day.",
    "A photo of a cat sleeping on a red sofa.",
    "Two people riding bicycles along the river at sunset.",
    "A bowl of fresh fruit on a wooden kitchen table.",
    "The patient presented with fever, cough and shortness of breath.",
    "Consolidation in the left upper lobe is consistent with pneumonia.",
    "No pneumothorax is seen. The costophrenic angles are sharp.",
    "Endotracheal tube terminates above the carina; nasogastric tube in the stomach.",
    "Degenerative changes of the thoracic spine are noted.",
    "Ultrasound of the kidney shows mild hydronephrosis.",
    "Dermoscopy image of a benign melanocytic nevus.",
    "Fundus photograph showing diabetic retinopathy with microaneurysms.",
    "An image of a malignant tumor with irregular borders.",
    "A microscope image of cells undergoing mitosis.",
    "Café au lait spots, naïve résumé, coöperation, Zürich, São Paulo, Ångström.",
    "Crème brûlée and piñata at the fiesta in México.",
    "Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ ａｎｄ ｄｉｇｉｔｓ １２３ appear in scanned reports.",
    "The ﬁle ﬂow uses ligatures ﬀ and ﬃ sometimes.",
    "Values ① ② ③ and ½ dose, 5 mg/kg, 37.5 °C, 120/80 mmHg.",
    "Über 50% der Patienten zeigten eine Besserung.",
    "El paciente tiene neumonía en el pulmón derecho.",
    "Le patient présente une pneumonie du lobe inférieur.",
    "Normal sinus rhythm on the electrocardiogram, heart rate 72 bpm.",
    "The quick brown fox jumps over the lazy dog.",
    "Satellite image of a city with roads and buildings.",
    "A diagram of the human heart with labeled chambers.",
    "Bilateral interstitial opacities suggest viral pneumonia or edema.",
    "Post-operative changes after median sternotomy and valve replacement.",
    "A fracture of the distal radius with dorsal angulation.",
    "Screening mammogram with scattered fibroglandular densities.",
    "An endoscopy image showing a polyp in the colon.",
    "A sketch of a mountain landscape with pine trees and a lake.",
]
SUBJECTS = ["dog", "cat", "bird", "horse", "car", "airplane", "ship", "truck", "tumor", "lesion", "nodule", "mass",
            "effusion", "fracture", "opacity", "pneumonia", "edema", "cardiomegaly", "atelectasis", "emphysema",
            "granuloma", "calcification", "pacemaker", "catheter", "hernia", "abscess", "aneurysm", "stenosis",
            "thrombosis", "embolism", "carcinoma", "lymphoma", "metastasis", "cyst", "fibrosis", "bronchiectasis",
            "elephant", "giraffe", "bicycle", "motorcycle", "umbrella", "keyboard", "sandwich", "pizza", "banana",
            "television", "refrigerator", "backpack", "suitcase", "skateboard", "surfboard", "teddy bear"]
TEMPLATES = ["a photo of a {}.", "a blurry photo of the {}.", "an x-ray image of {}.", "a chest radiograph with {}.",
             "a close-up photo of a small {}.", "this is a picture of a large {}.", "a CT scan showing {}.",
             "there is evidence of {} on the image.", "a drawing of the {}.", "an MRI scan with {}.",
             "a histology slide of {}.", "a cropped photo of the {}.", "itap of a {}.", "a bright photo of a {}.",
             "a low resolution photo of the {}.", "a rendering of a {}.", "findings consistent with {}."]


def corpus():
    lines = list(BASE)
    for t in TEMPLATES:
        for s in SUBJECTS:
            lines.append(t.format(s))
    return lines * 3


def train(**kwargs):
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus()), model_writer=buf, model_type="unigram",
                                   num_threads=1, shuffle_input_sentence=False, minloglevel=2, **kwargs)
    return buf.getvalue()


def cases():
    long_text = " ".join(BASE[:8])
    texts = [
        "", " ", "   ", "\t\n", "a", "A", ".", "...", "a.", "hello", "Hello World", "HELLO WORLD",
        "a photo of a dog.", "a photo of a cat.", "A Photo Of A Dog.", "a chest x-ray showing pneumonia.",
        "A chest X-ray showing pneumonia.", "a chest x ray showing pneumonia", "no acute cardiopulmonary abnormality",
        "small left pleural effusion", "mild cardiomegaly", "an axial ct image of the abdomen",
        "histopathology slide stained with h&e", "a dermoscopy image of a melanoma.",
        "fundus photograph with diabetic retinopathy", "this is a photo of pneumothorax",
        "  leading spaces", "trailing spaces   ", "multiple    spaces   between words", "tab\tseparated\twords",
        "new\nline\nseparated", "mixed \t\n whitespace \r\n here", "non\u00a0breaking\u00a0space",
        "ideographic\u3000space", "em\u2003space and thin\u2009space", "zero\u200bwidth\u200bspace",
        "file separator\x1cand unit separator\x1f", "next line\x85character", "line\u2028separator",
        "punctuation!!! everywhere??? (really) [yes] {no} <maybe>", "a-b_c.d,e;f:g", "under_score_words",
        "\"quoted\" and 'single quoted'", "100% sure @ 5pm #1 $20 ^ & * ~ ` | \\ /",
        "it's the patient's x-ray", "don't do that", "e-mail: doctor@hospital.org", "http://example.com/a?b=c",
        "café", "CAFÉ", "naïve résumé", "Zürich São Paulo Ångström", "crème brûlée", "cafe\u0301 (combining acute)",
        "Ｆｕｌｌｗｉｄｔｈ ＴＥＸＴ", "ｆｕｌｌｗｉｄｔｈ ｘ－ｒａｙ", "fullwidth punctuation！？（）", "１２３ digits",
        "ﬁle ﬂow ﬀ ﬃ", "① ② ③ circled", "½ dose", "37.5 °C", "5 mg/kg", "120/80 mmHg", "x²+y²", "H₂O",
        "™ © ®", "…ellipsis…", "“curly quotes” and ‘single’", "en–dash em—dash", "¿qué? ¡sí!",
        "İstanbul", "ß straße STRASSE", "ΣΊΣΥΦΟΣ σίσυφος ΟΔΟΣ", "Ǆ ǅ ǆ", "ﬀ", "Ⅻ roman numeral",
        "emoji 😀 test", "🫁 lungs", "❤️ heart", "👍🏽 thumbs", "🇫🇷 flag", "a😀b😀c",
        "中文字符", "肺炎 pneumonia", "日本語のテキスト", "한국어 텍스트", "Кириллица текст", "עברית", "العربية",
        "ไทย", "हिन्दी", "mixed 中 English 文 text", "\u0000nul", "control\u0007bell", "del\u007fchar",
        "soft\u00adhyphen", "bom\ufeffchar", "replacement \ufffd char", "private \ue000 use",
        "▁", "▁▁", "▁hello", "hello▁world", "a ▁ b", "<unk>", "<unk> hello", "hello <unk>", "</s>", "hello </s>",
        "hello</s>world", "</s> hello", "<pad>", "<s>", "<unk></s><unk>", "x</s>", "  </s>  ", "hello </s> world </s>",
        "UPPER lower MiXeD", "numbers 0123456789", "3.14159 pi", "1,000,000", "covid-19 sars-cov-2",
        "T1-weighted MRI", "ECG: ST elevation", "HbA1c 7.2%", "pH 7.35", "SpO2 95%", "BMI > 30",
        "a" * 40, "ab " * 30, "pneumonia " * 20, long_text, long_text.upper(), (long_text + " ") * 3,
        "word " * 62, "word " * 63, "word " * 64, "word " * 65,
        "a " * 62 + "</s>", "a " * 63 + "</s>", "a " * 64 + "</s>", "a " * 62 + "</s> b",
        "a b c d e f g </s>", "a b c d e f </s>", "a b c d e f g h </s>",
        "a photo of a {}.", "a photo of a {}", "{} {}", "the {} in the image",
        "fluid\x00in\x01between", "über", "ÜBER", "Ñandú", "façade", "œuvre", "Æsir", "ø å æ",
        "ĳ ligature", "ﬅ ﬆ", "℃ ℉", "№ 5", "㎏ ㎜ ㎡", "ｶﾀｶﾅ", "ｱｲｳ half-width katakana",
    ]
    seen, out = set(), []
    for t in texts:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def write_cases(path, header, cases_out):
    """header's fields, then "cases": one case per line (readable diffs, a fraction of indent's size)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n")
        for k, v in header.items():
            f.write(f" {json.dumps(k)}: {json.dumps(v)},\n")
        f.write(' "cases": [\n')
        f.write(",\n".join("  " + json.dumps(c, ensure_ascii=True) for c in cases_out))
        f.write("\n ]\n}\n")


def to_list(x):
    return [int(v) for v in x]


def open_clip_variant(model_dir):
    """open_clip's SigLIP text path (open_clip 3.3 tokenizer.py: HFTokenizer with clean='canonicalize', or
    SigLipTokenizer): ftfy.fix_text, html.unescape twice, strip, '_' to a space, delete string.punctuation,
    lowercase, whitespace collapse, strip; then T5TokenizerFast(extra_ids=0, legacy=False) with pad = eos = 1.
    The cleaning is restated here so that open_clip (which needs torchvision) need not be installed. None when ftfy
    is missing."""
    try:
        import ftfy
    except ImportError:
        return None
    import html
    import string
    from transformers import T5TokenizerFast
    punctuation = str.maketrans("", "", string.punctuation)
    # T5TokenizerFast(vocab_file=...) as open_clip's SigLipTokenizer calls it gets a 4-piece vocabulary in
    # transformers 5; from_pretrained converts spiece.model as AutoTokenizer does for open_clip's HFTokenizer.
    fast = T5TokenizerFast.from_pretrained(model_dir, extra_ids=0, legacy=False)
    fast.pad_token_id = 1
    fast.eos_token_id = 1

    def clean(text):
        text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
        text = text.replace("_", " ").translate(punctuation).lower()
        return " ".join(text.split()).strip()

    def run(text, context, cleaned=None):
        text = clean(text) if cleaned is None else cleaned
        return to_list(fast(text, max_length=context, padding="max_length", truncation=True)["input_ids"])
    return run


def write_siglip_fixture():
    model = train(vocab_size=500, normalization_rule_name="nmt_nfkc", character_coverage=1.0,
                  pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "spiece.model")
    with open(path, "wb") as f:
        f.write(model)
    config = {"tokenizer_class": "SiglipTokenizer", "do_lower_case": True, "model_max_length": 64,
              "eos_token": "</s>", "pad_token": "</s>", "unk_token": "<unk>", "additional_special_tokens": [],
              "model_input_names": ["input_ids"]}
    with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")

    sp = spm.SentencePieceProcessor(model_file=path)
    tok = SiglipTokenizer.from_pretrained(OUT)
    auto = transformers.AutoTokenizer.from_pretrained(OUT)
    assert type(auto) is SiglipTokenizer, type(auto)
    # transformers 4.x always switched add_dummy_prefix off in the model; 5.x does only with legacy=False
    no_prefix = SiglipTokenizer(vocab_file=path, legacy=False)
    open_clip = open_clip_variant(OUT)

    out, differ = [], {"no_dummy_prefix": 0, "open_clip": 0, "t5_fast_same_text": 0}
    for text in cases():
        enc = tok(text, padding="max_length", truncation=True, max_length=64, return_attention_mask=True)
        enc8 = tok(text, padding="max_length", truncation=True, max_length=8, return_attention_mask=True)
        case = {"text": text, "spm": to_list(sp.encode_as_ids(text)), "spm_pieces": sp.encode_as_pieces(text),
                "tokens": tok.tokenize(text),
                "ids": to_list(enc["input_ids"]), "mask": to_list(enc["attention_mask"]),
                "ids_8": to_list(enc8["input_ids"]), "mask_8": to_list(enc8["attention_mask"])}
        alt = to_list(no_prefix(text, padding="max_length", truncation=True, max_length=64)["input_ids"])
        if alt != case["ids"]:
            case["ids_no_dummy_prefix"] = alt
            differ["no_dummy_prefix"] += 1
        if open_clip is not None:
            oc = open_clip(text, 64)
            if oc != case["ids"]:
                case["ids_open_clip"] = oc
                differ["open_clip"] += 1
            # the fast Unigram on SiglipTokenizer's own cleaned text: separates segmentation from cleaning
            same = open_clip(text, 64, cleaned=tok.canonicalize_text(text))
            if same != case["ids"]:
                case["ids_t5_fast_same_text"] = same
                differ["t5_fast_same_text"] += 1
        out.append(case)
    write_cases(os.path.join(OUT, "cases.json"),
                {"generator": "models/scripts/make_sentencepiece_fixtures.py",
                 "versions": {"sentencepiece": spm.__version__, "transformers": transformers.__version__},
                 "vocab_size": sp.get_piece_size(), "differing_cases": differ}, out)
    print(f"siglip fixture: {len(out)} cases, model {len(model)} bytes, vocab {sp.get_piece_size()}; "
          f"differing from HF 5.17: {differ}", file=sys.stderr)


def siglip_case(tok, text):
    enc = tok(text, padding="max_length", truncation=True, max_length=16, return_attention_mask=True)
    return {"tokens": tok.tokenize(text), "ids_16": to_list(enc["input_ids"]), "mask_16": to_list(enc["attention_mask"])}


def write_byte_fallback_fixture():
    model = train(vocab_size=600, normalization_rule_name="identity", byte_fallback=True, character_coverage=0.98,
                  user_defined_symbols=["x-ray", "<img>", "CT"], add_dummy_prefix=False,
                  remove_extra_whitespaces=False)
    d = os.path.join(OUT, "bytefallback")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "spiece.model")
    with open(path, "wb") as f:
        f.write(model)
    sp = spm.SentencePieceProcessor(model_file=path)
    # SiglipTokenizer's defaults (no tokenizer_config.json): its "<unk>" workaround then meets byte pieces, and
    # with spaces kept a lone "▁" can come before a special token
    tok = SiglipTokenizer(vocab_file=path)
    out = [dict({"text": t, "spm": to_list(sp.encode_as_ids(t)), "pieces": sp.encode_as_pieces(t)}, **siglip_case(tok, t))
           for t in cases()]
    write_cases(os.path.join(d, "cases.json"),
                {"generator": "models/scripts/make_sentencepiece_fixtures.py",
                 "versions": {"sentencepiece": spm.__version__, "transformers": transformers.__version__},
                 "vocab_size": sp.get_piece_size()}, out)
    print(f"byte-fallback fixture: {len(out)} cases, model {len(model)} bytes, vocab {sp.get_piece_size()}",
          file=sys.stderr)


def write_handmade_fixture():
    """A hand-built model whose scores make the Viterbi's ties, rounding, UNUSED and USER_DEFINED pieces visible."""
    from sentencepiece import sentencepiece_model_pb2 as pb
    m = pb.ModelProto()
    m.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
    m.trainer_spec.unk_id, m.trainer_spec.bos_id, m.trainer_spec.eos_id = 0, 1, 2
    m.normalizer_spec.name = "identity"
    T = pb.ModelProto.SentencePiece
    pieces = [("<unk>", 0.0, T.UNKNOWN), ("<s>", 0.0, T.CONTROL), ("</s>", 0.0, T.CONTROL),
              ("\u2581", -1.0, T.NORMAL), ("a", -1.0, T.NORMAL), ("b", -1.0, T.NORMAL),
              ("ab", -2.0, T.NORMAL),       # = a + b: a tie, the first path found (ab) must win
              ("c", -1.5, T.NORMAL), ("bc", -2.5, T.NORMAL),
              ("abc", 0.0, T.UNUSED),       # best score, but UNUSED pieces are never chosen
              ("\u2581a", -1.7, T.NORMAL),
              # a user-defined piece scores len * max_score - 0.1, max_score over NORMAL pieces starting at FLT_MIN:
              # here 2 * FLT_MIN - 0.1, better than x + y = -1.0
              ("xy", 0.0, T.USER_DEFINED), ("x", -0.5, T.NORMAL), ("y", -0.5, T.NORMAL),
              # with these scores a double sum compared with the stored float path score (as the v0.2.0 C++ source
              # reads) would choose m + n, g + h, k + l after the dummy prefix; sentencepiece 0.2.2 sums in float
              # and keeps mn, gh, kl
              ("p", -0.1, T.NORMAL), ("q", -0.2, T.NORMAL), ("pq", -0.3, T.NORMAL),
              ("m", -1.05, T.NORMAL), ("n", -0.64, T.NORMAL), ("mn", -1.69, T.NORMAL),
              ("g", -0.5, T.NORMAL), ("h", -1.34, T.NORMAL), ("gh", -1.84, T.NORMAL),
              ("k", -0.03, T.NORMAL), ("l", -0.43, T.NORMAL), ("kl", -0.46, T.NORMAL),
              ("d", -3.0, T.NORMAL), ("\u00e9", -1.0, T.NORMAL), ("\u2581\u2581", -0.5, T.NORMAL)]
    for text, score, typ in pieces:
        p = m.pieces.add()
        p.piece, p.score, p.type = text, score, typ
    d = os.path.join(OUT, "handmade")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "spiece.model")
    data = m.SerializeToString()
    with open(path, "wb") as f:
        f.write(data)
    sp = spm.SentencePieceProcessor(model_proto=data)
    texts = ["", "a", "ab", "abc", "bc", "a b", "ab ab", "xy", "xyxy", "x y", "pq", "pqpq", "qp", "d", "dd", "\u00e9",
             "e\u0301", "zz", "azzb", "a z b", "  ab  ", "ab c", "a  a", "xyz", "abcabc", "\u00e9a", "pqxyabc", "mn", "gh", "kl",
             "mn gh kl", "amn", "mnmn", "ghkl", "kkll"]
    out = [{"text": t, "spm": to_list(sp.encode_as_ids(t)), "pieces": sp.encode_as_pieces(t)} for t in texts]
    write_cases(os.path.join(d, "cases.json"), {"generator": "models/scripts/make_sentencepiece_fixtures.py",
                                                 "versions": {"sentencepiece": spm.__version__}}, out)
    print(f"handmade fixture: {len(out)} cases", file=sys.stderr)


if __name__ == "__main__":
    write_siglip_fixture()
    write_byte_fallback_fixture()
    write_handmade_fixture()
