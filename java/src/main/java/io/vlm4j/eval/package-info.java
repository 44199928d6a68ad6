/**
 * Evaluation of frozen embeddings (issue #6): classification metrics, the zero-shot head's math, the CLIP linear
 * probe, cosine k-NN. Pure Java in float64; no model code: the inputs are embedding or score matrices
 * ({@code double[][]}, with {@code float[][]} overloads at the entry points) and labels ({@code int[]}, or
 * {@code boolean[][]} / 0-1 {@code int[][]} for multi-label).
 *
 * <h2>Design</h2>
 * <ul>
 *   <li><b>sklearn is the reference.</b> {@link io.vlm4j.eval.ClassificationMetrics} reproduces
 *       {@code roc_auc_score} (one-vs-rest, ties by average rank), {@code balanced_accuracy_score} and
 *       {@code f1_score(average="macro")}; {@link io.vlm4j.eval.LogisticRegression} is
 *       {@code LogisticRegression(solver="lbfgs")}: the objective of spec 07 §4.2 (mean cross-entropy +
 *       ‖W‖²/(2Cn), intercept unpenalized; full softmax for K &gt; 2, one logistic vector for K = 2) and the same
 *       optimizer. The tests compare with values that {@code models/scripts/make_eval_metric_fixtures.py} recorded
 *       from sklearn 1.9.1 (resources {@code eval/}); CI never runs Python.</li>
 *   <li><b>The optimizer is L-BFGS-B's algorithm without bounds</b> ({@link io.vlm4j.eval.Lbfgs}: two-loop
 *       recursion, m = 10, Moré–Thuente line search from MINPACK-2, SciPy's stopping rules), written out rather than
 *       approximated, so a fit takes the same iterations as sklearn's and lands within ~1e-10 of its solution. A fit
 *       that hits {@code maxIter} says so in {@link io.vlm4j.eval.LogisticRegression.FitInfo#warning()}.</li>
 *   <li><b>No hidden preprocessing.</b> Features are not standardized or normalized by the probe (the CLIP
 *       protocol fits the raw projected embedding, spec 07 §4.1); the zero-shot head and k-NN normalize, because
 *       cosine similarity is their definition.</li>
 *   <li><b>Undefined is not zero.</b> A metric without a definition (AUROC of a class absent from the labels) is NaN,
 *       left out of the macro mean, explained in the report's notes, and written as JSON {@code null}. Where sklearn
 *       has a convention (macro F1 counts a predicted-but-absent class as F1 = 0) it is followed and said.</li>
 *   <li><b>Reports are records</b> ({@link io.vlm4j.eval.MulticlassReport}, {@link io.vlm4j.eval.MultilabelReport},
 *       {@link io.vlm4j.eval.LinearProbe.Result}) that serialize with any Jackson {@code ObjectMapper} and print as
 *       text tables ({@code toTable()}, also {@code toString()}).</li>
 *   <li><b>One home for the zero-shot math.</b> {@link io.vlm4j.eval.ZeroShotHead} (spec 07 §3, plus the pairwise
 *       positive/negative-prompt softmax for multi-label) works on precomputed embeddings;
 *       {@link io.vlm4j.model.clip.ZeroShotClassifier} only encodes the prompts and delegates to it.</li>
 *   <li><b>Determinism.</b> Every tie has a stated rule: argmax takes the first column, the k-NN neighbour order
 *       breaks equal similarity by training index and a vote tie by the nearest neighbour, the probe's C choice
 *       breaks equal validation accuracy by log-loss, then by the smaller C.</li>
 * </ul>
 */
package io.vlm4j.eval;
