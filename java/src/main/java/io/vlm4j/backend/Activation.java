package io.vlm4j.backend;

import java.util.Locale;

/** Activation functions of the CLIP family (spec 00 "Activations"); {@link #code()} is shared with the native kernels. */
public enum Activation {
    /** Identity. */
    NONE(0),
    /** Exact GELU 0.5·x·(1+erf(x/√2)): HF "gelu", LAION/open_clip, timm, BERT. */
    GELU(1),
    /** x·σ(1.702·x): OpenAI CLIP and PubMedCLIP weights. */
    QUICK_GELU(2),
    /** 0.5·x·(1+tanh(√(2/π)(x+0.044715x³))): HF "gelu_new"/"gelu_pytorch_tanh", SigLIP. */
    GELU_TANH(3);

    private final int code;

    Activation(int code) { this.code = code; }

    public int code() { return code; }

    /** Maps an HF {@code hidden_act} string. */
    public static Activation fromHf(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "quick_gelu" -> QUICK_GELU;
            case "gelu" -> GELU;
            case "gelu_new", "gelu_pytorch_tanh", "gelu_tanh", "gelu_fast" -> GELU_TANH;
            default -> throw new IllegalArgumentException("unsupported hidden_act '" + name
                    + "' (supported: quick_gelu, gelu, gelu_new, gelu_pytorch_tanh)");
        };
    }

    /** The exact function in double precision (the reference). */
    public double apply(double x) {
        return switch (this) {
            case NONE -> x;
            case GELU -> 0.5 * x * (1.0 + Erf.erf(x / Math.sqrt(2.0)));
            case QUICK_GELU -> x / (1.0 + Math.exp(-1.702 * x));
            case GELU_TANH -> 0.5 * x * (1.0 + Math.tanh(Math.sqrt(2.0 / Math.PI) * (x + 0.044715 * x * x * x)));
        };
    }

    /** The derivative d{@link #apply}/dx in double precision (the reference of the activation backward). */
    public double derivative(double x) {
        return switch (this) {
            case NONE -> 1.0;
            // d/dx x·Φ(x) = Φ(x) + x·φ(x)
            case GELU -> 0.5 * (1.0 + Erf.erf(x / Math.sqrt(2.0))) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2.0 * Math.PI);
            case QUICK_GELU -> {
                double s = 1.0 / (1.0 + Math.exp(-1.702 * x));
                yield s + 1.702 * x * s * (1.0 - s);
            }
            case GELU_TANH -> {  // u = c·(x + 0.044715x³): 0.5·(1 + tanh u) + 0.5·x·(1 − tanh²u)·du/dx
                double c = Math.sqrt(2.0 / Math.PI);
                double t = Math.tanh(c * (x + 0.044715 * x * x * x));
                yield 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3 * 0.044715 * x * x);
            }
        };
    }
}
