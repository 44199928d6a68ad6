/**
 * Feature-distribution analysis: how discriminative a model's embeddings are on a labelled image set, as numbers
 * ({@link io.vlm4j.eval.analysis.SeparabilityMetrics}) and as pictures ({@link io.vlm4j.eval.analysis.Projection},
 * {@link io.vlm4j.eval.analysis.ScatterPlot}, {@link io.vlm4j.eval.analysis.BarChart}).
 *
 * <h2>Design</h2>
 * <ul>
 *   <li><b>Input</b> is {@link io.vlm4j.eval.analysis.LabeledEmbeddings}: {@code [N, E]} rows (float32 from the encoders
 *       is widened), a class index per row and the class names, checked once. Everything downstream is float64.</li>
 *   <li><b>Reference</b>: silhouette (euclidean, cosine), Davies–Bouldin, Calinski–Harabasz and PCA follow
 *       scikit-learn 1.9 and are tested against it to 1e-9 relative on committed fixtures
 *       (models/scripts/make_eval_analysis_fixtures.py writes them; CI never runs Python). t-SNE follows
 *       {@code sklearn.manifold.TSNE(method="exact")}; its P, KL and gradient are tested against sklearn's helpers.</li>
 *   <li><b>Cost</b>: metrics over pairs (silhouette, k-NN purity, pairwise cosine) are O(n²·E) and run on a seeded
 *       stratified sample of at most 5000 rows by default, whose size the report carries; the rest are O(N·E) on all
 *       rows. One pass over Gram-matrix row blocks ({@code PairwiseBlocks}) feeds all pairwise metrics; the n×n
 *       matrix is never held. Measured on the 2-core development machine: the full report on 20000×768 (pairwise on
 *       5000) in ~10 s, PCA of 20000×768 in ~3 s, t-SNE of 3000 points (1000 iterations) in ~28 s.</li>
 *   <li><b>Parallelism</b> is parallel streams over fixed-size blocks whose partial results are combined in block
 *       order, so a result has the same bits on 2 cores and on 64 (tested with pools of 1 and 3 threads).</li>
 *   <li><b>Dependencies</b>: EJML (Apache 2.0) for the symmetric eigendecomposition behind PCA; XChart (Apache 2.0) for
 *       charts, drawn onto an off-screen image (headless is fine; fonts must be installed) under a header drawn with
 *       Java2D, and written as PNG through {@link io.vlm4j.io.AtomicFiles}.</li>
 *   <li><b>Colours</b>: the Okabe–Ito palette, with marker shape changing every 8 classes
 *       ({@link io.vlm4j.eval.analysis.ClassPalette}).</li>
 *   <li><b>Left out</b>: UMAP. A correct small UMAP needs approximate nearest-neighbour descent, fuzzy simplicial set
 *       construction, a spectral initialisation and negative-sampling SGD with curve parameters fitted to
 *       {@code min_dist}; a partial version would give pictures that look like UMAP's but are not comparable to
 *       umap-learn's, so PCA and exact t-SNE are the projections offered. Barnes–Hut t-SNE is also left out: the
 *       exact method on a 3000-point sample is fast enough here and has no approximation to explain.</li>
 * </ul>
 */
package io.vlm4j.eval.analysis;
