#!/usr/bin/env python3
"""Writes scikit-learn's values that the io.vlm4j.eval tests compare against (ClassificationMetrics,
LogisticRegression).

Requirements: Python 3.9+, numpy and scikit-learn (tested with numpy 2.4.6, scikit-learn 1.9.1, scipy 1.17.1).
Only needed to regenerate the committed files; the Java build never runs Python.

Run from the repository root:
    python models/scripts/make_eval_metric_fixtures.py

Writes java/src/test/resources/eval/metrics.json
       java/src/test/resources/eval/logistic.json

Every input is generated here from fixed seeds and written into the JSON (rounded to 4-6 decimals, so both sides
read the same float64 values); the Java tests never regenerate data.

metrics.json: multiclass cases (labels, probability scores [N, K]) with roc_auc_score(multi_class="ovr",
average="macro"), the per-class one-vs-rest AUROC (roc_auc_score on each column), balanced_accuracy_score and
f1_score(average="macro") of the argmax predictions; a case where one class is absent from the labels (its AUROC is
undefined: the macro AUROC is the mean over the present classes, computed per column because roc_auc_score refuses
the case); multi-label cases (0/1 labels [N, L], probabilities) with roc_auc_score(average=None) on the labels that
have both values and the per-label accuracy of (p >= 0.5).

logistic.json: three data sets, (a) three separable Gaussian blobs, (b) four overlapping Gaussians, (c) a binary
set with unequal feature scales and offsets. For each, LogisticRegression(C=..., max_iter=1000, tol=...) with the
lbfgs defaults: coef_, intercept_, decision_function / predict_proba / predict on a test split, score, n_iter_, and
the objective J = mean CE + |W|^2 / (2 C n) (spec 07 section 4.2) at sklearn's solution. tol=1e-6 for the tight
comparisons (all outputs); the default 1e-4 only for coef_, intercept_, n_iter_ and J (iteration counts, objective).
"""
import json
import os
import warnings

import numpy as np
import scipy
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

OUT = "java/src/test/resources/eval"


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def multiclass_case(name, y, p, note):
    k = p.shape[1]
    pred = p.argmax(axis=1)
    present = sorted(set(y.tolist()))
    per_class = []
    for c in range(k):
        t = (y == c).astype(int)
        per_class.append(float(roc_auc_score(t, p[:, c])) if 0 < t.sum() < len(t) else None)
    if len(present) == k:
        macro = float(roc_auc_score(y, p, multi_class="ovr", average="macro"))
    else:
        macro = float(np.mean([a for a in per_class if a is not None]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true" in the absent-class case
        bal = float(balanced_accuracy_score(y, pred))
    return {
        "name": name,
        "note": note,
        "labels": y.tolist(),
        "scores": p.tolist(),
        "predicted": pred.tolist(),
        "accuracy": float((pred == y).mean()),
        "balanced_accuracy": bal,
        "f1_macro": float(f1_score(y, pred, average="macro")),
        "auroc_per_class": per_class,
        "auroc_macro": macro,
    }


def multilabel_case(name, y, p, note):
    per_label, acc = [], []
    for j in range(y.shape[1]):
        t = y[:, j]
        per_label.append(float(roc_auc_score(t, p[:, j])) if 0 < t.sum() < len(t) else None)
        acc.append(float(((p[:, j] >= 0.5).astype(int) == t).mean()))
    defined = [j for j in range(y.shape[1]) if per_label[j] is not None]
    if len(defined) == y.shape[1]:
        macro = float(roc_auc_score(y, p, average="macro"))
        assert np.allclose(roc_auc_score(y, p, average=None), per_label)
    else:
        macro = float(roc_auc_score(y[:, defined], p[:, defined], average="macro"))
    return {
        "name": name,
        "note": note,
        "labels": y.tolist(),
        "scores": p.tolist(),
        "auroc_per_label": per_label,
        "auroc_macro": macro,
        "accuracy_per_label": acc,
        "accuracy_macro": float(np.mean(acc)),
    }


def metrics():
    rng = np.random.default_rng(20240601)
    cases = []
    # Continuous scores: no ties.
    y = rng.integers(0, 5, 200)
    logits = rng.normal(size=(200, 5)) + 1.5 * np.eye(5)[y]
    cases.append(multiclass_case("continuous_5", y, np.round(softmax(logits), 6), "200 samples, 5 classes"))
    # Integer logits: many identical rows, so every column has tied scores (average ranks).
    y = rng.integers(0, 4, 60)
    logits = rng.integers(0, 3, size=(60, 4)).astype(float)
    logits[np.arange(60), y] += rng.integers(0, 2, 60)
    cases.append(multiclass_case("ties_4", y, softmax(logits), "60 samples, 4 classes, integer logits: ties"))
    # Class 2 absent from the labels but predicted sometimes.
    y = rng.choice([0, 1, 3], 50)
    logits = rng.normal(size=(50, 4)) + 1.0 * np.eye(4)[y]
    logits[:, 2] += 0.3
    cases.append(multiclass_case("absent_class_2", y, np.round(softmax(logits), 6),
                                 "50 samples, 4 columns, class 2 never in the labels"))
    ml = []
    y = (rng.random((80, 5)) < [0.1, 0.3, 0.5, 0.2, 0.6]).astype(int)
    p = 1 / (1 + np.exp(-(rng.normal(size=(80, 5)) + 1.2 * (2 * y - 1))))
    ml.append(multilabel_case("continuous_5", y, np.round(p, 6), "80 samples, 5 labels"))
    y = (rng.random((40, 4)) < 0.4).astype(int)
    y[:, 3] = 0  # label 3 never present
    p = np.round(np.clip(0.5 + 0.3 * (2 * y - 1) + rng.normal(scale=0.25, size=(40, 4)), 0, 1), 1)  # ties
    ml.append(multilabel_case("ties_absent_3", y, p, "40 samples, 4 labels, scores rounded to 0.1, label 3 never positive"))
    return {"multiclass": cases, "multilabel": ml}


def objective(x, y, coef, intercept, c):
    n = len(y)
    z = x @ coef.T + intercept
    if coef.shape[0] == 1:
        z = z[:, 0]
        ce = np.logaddexp(0, z) - y * z
    else:
        m = z.max(axis=1, keepdims=True)
        lse = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
        ce = lse - z[np.arange(n), y]
    return float(ce.mean() + (coef ** 2).sum() / (2 * c * n))


def dataset(name, note, x_train, y_train, x_test, y_test, cs):
    fits = []
    for c in cs:
        for tol in (1e-6, 1e-4):
            m = LogisticRegression(C=c, max_iter=1000, tol=tol)  # l2, lbfgs, fit_intercept, multinomial for K > 2
            m.fit(x_train, y_train)
            fit = {
                "C": c,
                "tol": tol,
                "n_iter": int(m.n_iter_[0]),
                "coef": m.coef_.tolist(),
                "intercept": m.intercept_.tolist(),
                "objective": objective(x_train, y_train, m.coef_, m.intercept_, c),
            }
            if tol < 1e-5:  # the outputs are compared only for the tight fits
                fit.update({
                    "decision_function": m.decision_function(x_test).reshape(len(x_test), -1).tolist(),
                    "predict_proba": m.predict_proba(x_test).tolist(),
                    "predict": m.predict(x_test).tolist(),
                    "score": float(m.score(x_test, y_test)),
                    "train_score": float(m.score(x_train, y_train)),
                })
            fits.append(fit)
    return {"name": name, "note": note, "x_train": x_train.tolist(), "y_train": y_train.tolist(),
            "x_test": x_test.tolist(), "y_test": y_test.tolist(), "fits": fits}


def blobs(rng, centers, n_per, scale):
    x = np.concatenate([c + scale * rng.normal(size=(n_per, len(c))) for c in centers])
    y = np.repeat(np.arange(len(centers)), n_per)
    return x, y


def logistic():
    rng = np.random.default_rng(7)
    sets = []
    centers = np.array([[6, 0, 0, 0], [0, 6, 0, 0], [0, 0, 6, 0]], dtype=float)
    xtr, ytr = blobs(rng, centers, 20, 1.0)
    xte, yte = blobs(rng, centers, 10, 1.0)
    sets.append(dataset("separable_3", "3 Gaussian blobs in 4-d, 6 apart, unit variance; separable",
                        np.round(xtr, 4), ytr, np.round(xte, 4), yte, [1.0, 100.0]))
    centers = rng.normal(scale=0.8, size=(4, 8))
    xtr, ytr = blobs(rng, centers, 100, 1.0)
    xte, yte = blobs(rng, centers, 50, 1.0)
    sets.append(dataset("overlapping_4", "4 Gaussians in 8-d, centers N(0, 0.8^2), unit variance; overlapping",
                        np.round(xtr, 4), ytr, np.round(xte, 4), yte, [0.01, 1.0, 100.0]))
    scales = np.array([1, 10, 0.1, 3, 1, 0.5])
    offsets = np.array([2, -1, 0, 5, 0, 1])
    n1, n0 = 80, 120
    xtr = np.concatenate([rng.normal(size=(n0, 6)), rng.normal(size=(n1, 6)) + 0.7]) * scales + offsets
    ytr = np.concatenate([np.zeros(n0, int), np.ones(n1, int)])
    xte = np.concatenate([rng.normal(size=(60, 6)), rng.normal(size=(40, 6)) + 0.7]) * scales + offsets
    yte = np.concatenate([np.zeros(60, int), np.ones(40, int)])
    sets.append(dataset("binary_scaled", "2 classes (120/80) in 6-d, shift 0.7, feature scales 0.1..10 and offsets",
                        np.round(xtr, 4), ytr, np.round(xte, 4), yte, [0.05, 1.0]))
    return {"datasets": sets}


def write(name, obj):
    obj = {"generator": "models/scripts/make_eval_metric_fixtures.py",
           "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__, "scipy": scipy.__version__}, **obj}
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="ascii") as f:
        json.dump(obj, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    write("metrics.json", metrics())
    write("logistic.json", logistic())
