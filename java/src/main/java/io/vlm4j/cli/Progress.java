package io.vlm4j.cli;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A progress bar on stderr for long runs (me.tongfei:progressbar), shown only when stderr is a terminal and the
 * run is long enough to need one, so that logs and tests see only the results and the one-line errors.
 */
final class Progress implements AutoCloseable {
    private final ProgressBar bar;

    private Progress(ProgressBar bar) { this.bar = bar; }

    static Progress start(String task, long total, boolean enabled) {
        if (!enabled || System.console() == null || total < 2) return new Progress(null);
        return new Progress(new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                .setConsumer(new ConsoleProgressBarConsumer(System.err)).setUpdateIntervalMillis(250).build());
    }

    void step(long n) {
        if (bar != null) bar.stepBy(n);
    }

    /** Text shown after the bar (e.g. the current loss). */
    void extra(String message) {
        if (bar != null) bar.setExtraMessage(message);
    }

    @Override
    public void close() {
        if (bar != null) bar.close();
    }
}
