package io.vlm4j.backend.reference;

/**
 * IEEE binary16 (F16) and bfloat16 (BF16) conversions on raw bits, written out by hand because Java 17 has no
 * {@code Float.floatToFloat16}. Narrowing rounds to nearest, ties to even; widening is exact.
 *
 * <p>NaNs follow the x86 instructions the native kernels use (F16C {@code vcvtps2ph}/{@code vcvtph2ps} and the
 * BF16 bit trick), so both backends agree bit for bit: a NaN keeps its sign and the top bits of its payload and
 * comes out quiet.
 */
public final class HalfFloats {
    private HalfFloats() {}

    /** F32 bits → F16 bits, round to nearest even; overflow gives ±Inf, underflow ±0 (via the subnormals). */
    public static short f32BitsToF16(int bits) {
        int sign = (bits >>> 16) & 0x8000;
        int exponent = (bits >>> 23) & 0xff;                             // biased by 127
        int mantissa = bits & 0x7fffff;
        if (exponent == 0xff) {                                          // Inf or NaN
            if (mantissa == 0) return (short) (sign | 0x7c00);
            return (short) (sign | 0x7c00 | 0x200 | (mantissa >>> 13));  // quiet NaN, top payload bits kept
        }
        if (exponent == 0) return (short) sign;                          // F32 zero or subnormal: < 2^-126, rounds to 0
        int unbiased = exponent - 127;
        if (unbiased > 15) return (short) (sign | 0x7c00);               // ≥ 2^16: beyond the largest F16
        int significand = mantissa | 0x800000;                           // 24 bits with the implicit leading one
        int half;
        int dropped;                                                     // how many low significand bits are cut
        if (unbiased >= -14) {                                           // F16 normal: keep 11 significant bits
            half = ((unbiased + 15) << 10) | (mantissa >>> 13);
            dropped = 13;
        } else {                                                         // F16 subnormal: units of 2^-24
            dropped = -unbiased - 1;                                     // value = significand · 2^(unbiased-23)
            if (dropped > 24) return (short) sign;                       // below half the smallest subnormal
            half = significand >>> dropped;
        }
        int remainder = significand & ((1 << dropped) - 1);
        int halfway = 1 << (dropped - 1);
        if (remainder > halfway || (remainder == halfway && (half & 1) == 1)) {
            half++;                                                      // a carry may step into the next binade or Inf, both correct
        }
        return (short) (sign | half);
    }

    /** F16 bits → F32 bits, exact. */
    public static int f16ToF32Bits(short h) {
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1f;
        int mantissa = h & 0x3ff;
        if (exponent == 0x1f) {
            if (mantissa == 0) return sign | 0x7f800000;
            return sign | 0x7f800000 | 0x400000 | (mantissa << 13);      // quiet NaN, payload kept
        }
        if (exponent == 0) {
            // zero or subnormal: mantissa · 2^-24, exact in F32 (10 significant bits at most)
            float magnitude = mantissa * 0x1p-24f;
            return sign | Float.floatToRawIntBits(magnitude);
        }
        return sign | ((exponent - 15 + 127) << 23) | (mantissa << 13);
    }

    /** F32 bits → BF16 bits: keep the top 16 bits, round to nearest even on the low 16. */
    public static short f32BitsToBf16(int bits) {
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 0x40);  // NaN stays a quiet NaN
        int upper = bits >>> 16;
        int lower = bits & 0xffff;
        if (lower > 0x8000 || (lower == 0x8000 && (upper & 1) == 1)) {
            upper++;                                                     // a carry may reach Inf, which is correct
        }
        return (short) upper;
    }

    /** BF16 bits → F32 bits, exact (BF16 is the top half of an F32). */
    public static int bf16ToF32Bits(short h) {
        return (h & 0xffff) << 16;
    }

    public static float f16ToFloat(short h) { return Float.intBitsToFloat(f16ToF32Bits(h)); }

    public static short floatToF16(float f) { return f32BitsToF16(Float.floatToRawIntBits(f)); }

    public static float bf16ToFloat(short h) { return Float.intBitsToFloat(bf16ToF32Bits(h)); }

    public static short floatToBf16(float f) { return f32BitsToBf16(Float.floatToRawIntBits(f)); }
}
