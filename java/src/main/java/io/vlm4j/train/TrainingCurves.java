package io.vlm4j.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** The loss/accuracy curve PNG of a run (drawn by {@link io.vlm4j.eval.analysis.TrainingCurves}). */
final class TrainingCurves {
    private TrainingCurves() {}

    static void write(Path png, List<LoraTrainer.StepRecord> steps, List<LoraTrainer.EpochRecord> epochs, String objective) throws IOException {
        int n = steps.size(), m = epochs.size();
        double[] x = new double[n], loss = new double[n], acc = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = steps.get(i).step();
            loss[i] = steps.get(i).loss();
            acc[i] = steps.get(i).accuracy();
        }
        double[] vx = new double[m], va = new double[m], vl = new double[m];
        for (int i = 0; i < m; i++) {
            vx[i] = epochs.get(i).step();
            va[i] = epochs.get(i).valAccuracy();
            vl[i] = epochs.get(i).valLoss();
        }
        io.vlm4j.eval.analysis.TrainingCurves.write(png, x, loss, acc, vx, va, vl, "LoRA training (" + objective + ")",
                n + " steps" + (m > 0 && Double.isFinite(va[m - 1]) ? String.format(java.util.Locale.ROOT, ", last validation accuracy %.4f", va[m - 1]) : ""));
    }
}
