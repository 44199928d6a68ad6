package io.vlm4j.train;

import java.util.Locale;

/**
 * Learning rate per optimizer step: linear warmup from 0 over {@code warmup} steps, then constant, linear decay to 0
 * or half-cosine decay to 0 at {@code total} steps (open_clip's {@code cosine_lr}: lr·½(1 + cos(π·e/es)) with e the
 * steps after warmup and es the steps of decay).
 */
public record LrSchedule(Kind kind, double lr, long warmup, long total) {
    public enum Kind {
        CONSTANT, LINEAR, COSINE;

        public static Kind parse(String s) {
            try {
                return valueOf(s.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown schedule '" + s + "' (constant, linear, cosine)");
            }
        }
    }

    public LrSchedule {
        if (!(lr > 0) || !Double.isFinite(lr)) throw new IllegalArgumentException("learning rate must be > 0, got " + lr);
        if (warmup < 0 || total < 1) throw new IllegalArgumentException("warmup must be >= 0 and total steps >= 1");
    }

    /** The rate for step {@code s} (1-based: the first update is step 1). */
    public double at(long s) {
        if (warmup > 0 && s <= warmup) return lr * s / warmup;
        long e = s - warmup, es = Math.max(1, total - warmup);
        double frac = Math.min(1.0, (double) e / es);
        return switch (kind) {
            case CONSTANT -> lr;
            case LINEAR -> lr * (1 - frac);
            case COSINE -> lr * 0.5 * (1 + Math.cos(Math.PI * frac));
        };
    }
}
