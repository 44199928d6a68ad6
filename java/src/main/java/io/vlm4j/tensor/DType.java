package io.vlm4j.tensor;

import java.util.Locale;

/** Element types. {@link #code()} is the integer shared with the native kernels (kernels.h). */
public enum DType {
    F32(0, 4), F16(1, 2), BF16(2, 2), I32(3, 4);

    private final int code;
    private final int byteSize;

    DType(int code, int byteSize) {
        this.code = code;
        this.byteSize = byteSize;
    }

    public int code() { return code; }

    public int byteSize() { return byteSize; }

    public boolean isFloating() { return this != I32; }

    /** Parses user-facing names: fp32/f32/float32, fp16/f16/float16/half, bf16/bfloat16, i32/int32. */
    public static DType parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "f32", "fp32", "float32", "float" -> F32;
            case "f16", "fp16", "float16", "half" -> F16;
            case "bf16", "bfloat16" -> BF16;
            case "i32", "int32" -> I32;
            default -> throw new IllegalArgumentException("unknown dtype '" + name + "' (expected fp32, fp16 or bf16)");
        };
    }
}
