#!/usr/bin/env python3
"""Writes the scikit-learn reference values that io.vlm4j.eval.analysis's tests (SklearnFixtureTest) compare against.

Requirements: Python 3.9+, numpy and scikit-learn (written against numpy 2.4.6, scikit-learn 1.9.1). Only needed to
regenerate the committed files; the Java build never runs Python.

Run from the repository root:
    python3 models/scripts/make_eval_analysis_fixtures.py

Writes java/src/test/resources/eval/analysis/<case>.json, one per case below. Each holds the seeded input
(x [N, E] as float64, labels [N]) and:
  sklearn.metrics.silhouette_score (metric="euclidean" and "cosine"), davies_bouldin_score, calinski_harabasz_score;
  sklearn.decomposition.PCA(n_components=3, svd_solver="full"): components_, explained_variance_,
      explained_variance_ratio_, and the transform of the input;
  numpy references for what sklearn lacks: the Fisher trace ratio trace(S_B)/trace(S_W), the per-class-pair 1-D
      Fisher ratio on the unit mean-difference direction, k-NN purity (cosine, k=5, self excluded), and the
      within/between-class pairwise cosine similarity mean and std (ddof=0) and those of the class centroids
      (means of the L2-normalized rows);
  for blobs_5d also the exact t-SNE pieces, from sklearn.manifold._t_sne's private helpers: the condensed joint
      probabilities P at perplexity 10 (_joint_probabilities on squared euclidean distances, which it bisects in
      float32), and for that P and a seeded 2-D embedding Y the KL divergence and its gradient (_kl_divergence).
Floats are written with repr(), so they round-trip exactly.
"""
import json
import os

import numpy as np
import sklearn
from sklearn.decomposition import PCA
from sklearn.manifold._t_sne import _joint_probabilities, _kl_divergence
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, pairwise_distances, silhouette_score

OUT = "java/src/test/resources/eval/analysis"
KNN_K = 5


def blobs(rng, sizes, dim, spread, offset=0.0, unit=False):
    """Gaussian classes around random centres; optionally every row L2-normalized (CLIP-like)."""
    x, y = [], []
    for c, n in enumerate(sizes):
        centre = rng.normal(0.0, 1.0, dim)
        x.append(centre + spread * rng.normal(0.0, 1.0, (n, dim)) + offset)
        y += [c] * n
    x = np.concatenate(x)
    if unit:
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    perm = rng.permutation(len(y))
    return x[perm], np.asarray(y)[perm]


def fisher(x, y):
    classes = np.unique(y)
    mu = x.mean(axis=0)
    means = {c: x[y == c].mean(axis=0) for c in classes}
    sb = sum((y == c).sum() * np.sum((means[c] - mu) ** 2) for c in classes)
    sw = sum(np.sum((x[y == c] - means[c]) ** 2) for c in classes)
    pair = np.full((len(classes), len(classes)), np.nan)
    for a in classes:
        for b in classes:
            if a == b:
                continue
            gap = means[a] - means[b]
            w = gap / np.linalg.norm(gap)
            va = np.var(x[y == a] @ w)
            vb = np.var(x[y == b] @ w)
            pair[a, b] = gap @ gap / (va + vb)
    return sb / sw, pair


def cosine_references(x, y, k):
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = u @ u.T
    n = len(y)
    masked = s.copy()
    np.fill_diagonal(masked, -np.inf)
    nn = np.argsort(-masked, axis=1, kind="stable")[:, :k]
    purity = float(np.mean(y[nn] == y[:, None]))
    iu = np.triu_indices(n, 1)
    same = (y[:, None] == y[None, :])[iu]
    pairs = s[iu]
    classes = np.unique(y)
    cent = np.stack([u[y == c].mean(axis=0) for c in classes])
    cent /= np.linalg.norm(cent, axis=1, keepdims=True)
    cs = (cent @ cent.T)[np.triu_indices(len(classes), 1)]
    return {
        "knn_k": k,
        "knn_purity": purity,
        "within_mean": float(pairs[same].mean()), "within_std": float(pairs[same].std()),
        "between_mean": float(pairs[~same].mean()), "between_std": float(pairs[~same].std()),
        "centroid_mean": float(cs.mean()), "centroid_std": float(cs.std()),
    }


def tsne_pieces(rng, x, perplexity):
    p = _joint_probabilities(pairwise_distances(x, metric="euclidean", squared=True), perplexity, 0)
    y = rng.normal(0.0, 2.0, (x.shape[0], 2))
    kl, grad = _kl_divergence(y.ravel(), p, 1, x.shape[0], 2)
    return {"tsne_perplexity": perplexity, "tsne_p_condensed": p.tolist(), "tsne_y": y.tolist(),
            "tsne_kl": float(kl), "tsne_grad": grad.reshape(-1, 2).tolist()}


def case(name, x, y, extra=None):
    pca = PCA(n_components=3, svd_solver="full").fit(x)
    trace_ratio, pair = fisher(x, y)
    out = {
        "name": name,
        "generator": f"numpy {np.__version__}, scikit-learn {sklearn.__version__}",
        "x": x.tolist(),
        "labels": y.tolist(),
        "silhouette_euclidean": float(silhouette_score(x, y, metric="euclidean")),
        "silhouette_cosine": float(silhouette_score(x, y, metric="cosine")),
        "davies_bouldin": float(davies_bouldin_score(x, y)),
        "calinski_harabasz": float(calinski_harabasz_score(x, y)),
        "pca_components": pca.components_.tolist(),
        "pca_explained_variance": pca.explained_variance_.tolist(),
        "pca_explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
        "pca_transform": pca.transform(x).tolist(),
        "fisher_trace_ratio": float(trace_ratio),
        "fisher_pairwise": [[None if np.isnan(v) else float(v) for v in row] for row in pair],
    }
    out.update(cosine_references(x, y, KNN_K))
    out.update(extra or {})
    with open(os.path.join(OUT, name + ".json"), "w", encoding="ascii") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"{name}: N={x.shape[0]} E={x.shape[1]} silhouette euc {out['silhouette_euclidean']:.6f} "
          f"cos {out['silhouette_cosine']:.6f} DB {out['davies_bouldin']:.6f} CH {out['calinski_harabasz']:.6f}")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240601)
    # Three overlapping classes of unequal size in 5-D.
    x, y = blobs(rng, [25, 20, 15], 5, 0.8)
    case("blobs_5d", x, y, tsne_pieces(rng, x, 10.0))
    # A class of one sample (its silhouette is 0) beside two others; offset from the origin.
    x, y = blobs(rng, [12, 1, 9], 4, 0.5, offset=3.0)
    case("singleton_class", x, y)
    # Unit-norm rows in 64-D, six classes: the geometry of CLIP embeddings.
    case("unit_64d", *blobs(rng, [70, 60, 50, 40, 30, 20], 64, 0.6, unit=True))
    # Fewer rows than features (N < E) for PCA.
    case("wide_40x100", *blobs(rng, [15, 15, 10], 100, 1.0))


if __name__ == "__main__":
    main()
