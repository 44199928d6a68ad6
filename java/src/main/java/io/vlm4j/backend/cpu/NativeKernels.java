package io.vlm4j.backend.cpu;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP mapping of {@code native/include/vlm4j/kernels.h}. Pointers travel as {@code long} addresses; the
 * C++ side validates every size and pointer and throws, which JavaCPP turns into a {@link RuntimeException}.
 * Only {@link CpuBackend} and the tensor memory code call this class.
 */
@Platform(value = "linux-x86_64", include = "vlm4j/kernels.h", link = {"gomp", "vlm4j_cpu"},
        compiler = {"cpp17"})
public final class NativeKernels {
    static {
        Loader.load();
    }

    private NativeKernels() {}

    /** Forces the native library to load; throws {@link UnsatisfiedLinkError} with the loader's reason. */
    public static void ensureLoaded() {}

    public static native String vlm_cpu_features();
    public static native String vlm_simd_level();
    public static native int vlm_max_threads();
    public static native void vlm_set_num_threads(int n);
    public static native @Cast("intptr_t") long vlm_alloc(long bytes);
    public static native void vlm_free(@Cast("void*") long p);
    public static native void vlm_copy(@Cast("void*") long dst, @Cast("const void*") long src, long bytes);
    public static native void vlm_fill_f32(@Cast("float*") long dst, long n, float value);
    public static native void vlm_convert(int srcDtype, @Cast("const void*") long src, int dstDtype,
                                          @Cast("void*") long dst, long n);

    public static native long vlm_gemm_packed_b_floats(long k, long n);

    public static native void vlm_gemm_pack_b_f32(int transB, long k, long n, @Cast("const float*") long b, long ldb,
                                                  @Cast("float*") long dst, long dstFloats);

    public static native void vlm_gemm_f32_packed(long batch, long m, long n, long k, @Cast("const float*") long a, long lda, long strideA,
                                                  @Cast("const float*") long packedB, long packedFloats,
                                                  @Cast("float*") long c, long ldc, long strideC, @Cast("const float*") long bias, int act,
                                                  @Cast("const float*") long r, long ldr, long strideR);

    public static native int vlm_has_bf16_gemm();

    public static native void vlm_gemm_bf16(long m, long n, long k, long a, long lda, long w, long ldw, long bias, int act,
                                            long r, long ldr, long c, long ldc);

    public static native void vlm_gemm_f32(int transA, int transB, long batch, long m, long n, long k,
                                           float alpha, @Cast("const float*") long a, long lda, long strideA,
                                           @Cast("const float*") long b, long ldb, long strideB,
                                           float beta, @Cast("float*") long c, long ldc, long strideC,
                                           @Cast("const float*") long bias, int act,
                                           @Cast("const float*") long r, long ldr, long strideR);

    public static native void vlm_layernorm_f32(@Cast("const float*") long x, @Cast("const float*") long gamma,
                                                @Cast("const float*") long beta, @Cast("float*") long y,
                                                long rows, long dim, float eps);
    public static native void vlm_l2_normalize_f32(@Cast("const float*") long x, @Cast("float*") long y,
                                                   long rows, long dim, float eps);
    public static native void vlm_softmax_f32(@Cast("const float*") long x, @Cast("float*") long y,
                                              long rows, long dim);

    public static native void vlm_activation_f32(int act, @Cast("const float*") long x, @Cast("float*") long y, long n);
    public static native void vlm_add_f32(@Cast("const float*") long a, @Cast("const float*") long b,
                                          @Cast("float*") long y, long n);
    public static native void vlm_add_row_f32(@Cast("float*") long y, @Cast("const float*") long v, long rows, long dim);

    public static native void vlm_attention_f32(@Cast("const float*") long q, long ldq, long strideQ,
                                                @Cast("const float*") long k, long ldk, long strideK,
                                                @Cast("const float*") long v, long ldv, long strideV,
                                                @Cast("float*") long out, long ldo, long strideO,
                                                long batch, long heads, long lq, long lk, long headDim,
                                                float scale, int causal, @Cast("const int32_t*") long keyMask);

    public static native void vlm_layernorm_backward_f32(@Cast("const float*") long x, @Cast("const float*") long gamma,
                                                         @Cast("const float*") long dy, @Cast("float*") long dx,
                                                         long rows, long dim, float eps, int accumulate,
                                                         @Cast("float*") long dGamma, @Cast("float*") long dBeta);
    public static native void vlm_activation_backward_f32(int act, @Cast("const float*") long x, @Cast("const float*") long dy,
                                                          @Cast("float*") long dx, long n);
    public static native void vlm_l2_normalize_backward_f32(@Cast("const float*") long x, @Cast("const float*") long dy,
                                                            @Cast("float*") long dx, long rows, long dim, float eps);
    public static native void vlm_attention_backward_f32(@Cast("const float*") long q, long ldq, long strideQ,
                                                         @Cast("const float*") long k, long ldk, long strideK,
                                                         @Cast("const float*") long v, long ldv, long strideV,
                                                         @Cast("const float*") long out, long ldo, long strideO,
                                                         @Cast("const float*") long dOut, long lddo, long strideDo,
                                                         @Cast("float*") long dq, long lddq, long strideDq,
                                                         @Cast("float*") long dk, long lddk, long strideDk,
                                                         @Cast("float*") long dv, long lddv, long strideDv,
                                                         long batch, long heads, long lq, long lk, long headDim,
                                                         float scale, int causal, @Cast("const int32_t*") long keyMask);
    public static native void vlm_dropout_f32(@Cast("const float*") long x, @Cast("float*") long y, long n, float p, long seed);
    public static native void vlm_adamw_f32(@Cast("float*") long param, @Cast("const float*") long grad, @Cast("float*") long m,
                                            @Cast("float*") long v, long n, float lr, float beta1, float beta2, float eps,
                                            float weightDecay, long step);
    public static native double vlm_sum_squares_f32(@Cast("const float*") long x, long n);
    public static native void vlm_scale_f32(@Cast("float*") long x, long n, float alpha);

    public static native void vlm_patch_embed_f32(@Cast("const float*") long pixels, long batch, long channels,
                                                  long height, long width, long patch,
                                                  @Cast("const float*") long weight, @Cast("const float*") long bias,
                                                  long dim, @Cast("float*") long out);
    public static native void vlm_gather_rows_f32(@Cast("const float*") long table, long rows, long dim,
                                                  @Cast("const int32_t*") long ids, long n, @Cast("float*") long out);
    public static native void vlm_eos_pool_f32(@Cast("const float*") long hidden, @Cast("const int32_t*") long ids,
                                               long batch, long len, long dim, long eosId,
                                               @Cast("float*") long out, @Cast("int64_t*") long indexOut);

    public static native void vlm_resize_u8(@Cast("const uint8_t*") long src, long h, long w, long c,
                                            @Cast("uint8_t*") long dst, long outH, long outW, int filter,
                                            int premultipliedAlpha);
    public static native void vlm_crop_normalize_u8(@Cast("const uint8_t*") long src, long h, long w, long c, long top,
                                                    long left, long cropH, long cropW, double rescale,
                                                    @Cast("const float*") long mean, @Cast("const float*") long std,
                                                    @Cast("float*") long out, @Cast("uint8_t*") long cropU8);
}
