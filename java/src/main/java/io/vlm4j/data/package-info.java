/**
 * Datasets and dataset embeddings: the one place datasets come from, for evaluation (issue #6) and later for LoRA
 * training.
 *
 * <h2>Design</h2>
 * <ul>
 *   <li><b>One interface, two kinds of image.</b> {@link io.vlm4j.data.ImageDataset} items carry a label (class index,
 *       or a 0/1 vector for multi-label sets), a split ("train"/"val"/"test"/"") and an image: a file for folder and CSV
 *       sets (decoded by the usual OpenCV path, so 16-bit and palette handling stay identical to {@code encode-images}),
 *       or 8-bit pixels in memory for array formats, always RGB (gray replicated as Pillow's {@code convert("RGB")}).</li>
 *   <li><b>Sources and views.</b> Sources ({@link io.vlm4j.data.FolderDataset}, {@link io.vlm4j.data.CsvDataset},
 *       {@link io.vlm4j.data.MedMnistDataset}, {@link io.vlm4j.data.IdxDataset}, opened by
 *       {@link io.vlm4j.data.Datasets#open}) validate everything when opened: labels in range, counts matching, files
 *       present; errors name the file and the line, array or item. Views (split, subsample, kShot, filter) are index
 *       lists into their source, never copies, so any selection is described exactly by the source's identity plus the
 *       source indices. Sampling is seeded per class, so kShot(k) is a subset of kShot(k+1) for one seed.</li>
 *   <li><b>Pixels stay bytes until needed.</b> Array images stay uint8 (MedMNIST's stored .npz entries and plain IDX
 *       files are memory-mapped; deflated or gzipped ones are inflated once, into the heap or, when large, a mapped
 *       temporary file: {@link io.vlm4j.io.LargeBytes}). {@link io.vlm4j.data.DatasetPixels} turns them into F32
 *       [n, 3, S, S] one chunk at a time, so 60,000 images are never all floats at once.</li>
 *   <li><b>The cache trusts nothing it cannot check.</b> {@link io.vlm4j.data.EmbeddingCache} keys entries by SHA-256 of
 *       model (path, config.json content, weight files' size and mtime), adapter, dataset identity and indices,
 *       preprocessing and backend/dtype; the entry's .json repeats all of it in clear with the labels and the .npy's
 *       SHA-256, and a load compares every part and the checksum. Anything off is a warning and a recompute.</li>
 * </ul>
 * Datasets are not AutoCloseable: mapped pixels are released by the garbage collector, like any MappedByteBuffer.
 */
package io.vlm4j.data;
