package io.vlm4j.backend.cuda;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP mapping of {@code cuda/include/vlm4j/cuda_kernels.h}. The CUDA runtime is linked statically (merged into
 * the archive by cuda/Makefile), so this library loads on machines without a driver; {@link #vlmc_status()} then
 * says why CUDA is unavailable. Built from a stub with the same API when the build machine has no nvcc.
 * Link order: JavaCPP writes the -l flags in reverse, so the archive comes last here and first on the command line.
 */
@Platform(value = "linux-x86_64", include = "vlm4j/cuda_kernels.h", link = {"dl", "rt", "pthread", "vlm4j_cuda"},
        compiler = {"cpp17"})
public final class CudaKernels {
    static {
        Loader.load();
    }

    private CudaKernels() {}

    public static native String vlmc_status();
    public static native int vlmc_has_kernels();

    public static native long vlmc_malloc(long bytes);
    public static native void vlmc_free(long ptr);
    public static native void vlmc_memcpy_h2d(long dst, @Cast("const void*") long src, long bytes);
    public static native void vlmc_memcpy_d2h(@Cast("void*") long dst, long src, long bytes);
    public static native void vlmc_memcpy_d2d(long dst, long src, long bytes);
    public static native void vlmc_memcpy_2d(long dst, long dstPitch, long src, long srcPitch, long width, long rows);
    public static native void vlmc_pool_stats(@Cast("int64_t*") long[] out);
    public static native void vlmc_graph_begin();
    public static native long vlmc_graph_end();
    public static native void vlmc_graph_abort();
    public static native void vlmc_graph_launch(long graph);
    public static native void vlmc_graph_destroy(long graph);
    public static native int vlmc_is_capturing();
    public static native void vlmc_synchronize();
    public static native long vlmc_stream_create();
    public static native void vlmc_stream_destroy(long stream);
    public static native void vlmc_set_stream(long stream);
    public static native long vlmc_get_stream();
    public static native void vlmc_stream_synchronize();

    public static native void vlmc_activation(int dtype, int act, long x, long out, long n);
    public static native void vlmc_add(int dtype, long a, long b, long out, long n);
    public static native void vlmc_add_row(int dtype, long x, long row, long rows, long dim);
    public static native void vlmc_convert(int srcDtype, long src, int dstDtype, long dst, long n);

    public static native void vlmc_layernorm(int dtype, long x, long r, long sumOut, long gamma, long beta, long out,
                                             long rows, long dim, float eps);
    public static native void vlmc_softmax(int dtype, long x, long out, long rows, long dim);
    public static native void vlmc_l2_normalize(int dtype, long x, long out, long rows, long dim, float eps);

    public static native void vlmc_gather_rows(int dtype, long table, long rows, long dim, long ids, long n, long out);
    public static native void vlmc_eos_pool(int dtype, long hidden, long ids, long batch, long len, long dim, long eosId,
                                            long out, long positions);
    public static native void vlmc_im2col_patches(int dtype, long pixels, long batch, long channels, long height,
                                                  long width, long patch, long cols);

    public static native void vlmc_gemm(int dtype, int transA, int transB, long batch, long m, long n, long k, float alpha,
                                        long a, long lda, long strideA, long b, long ldb, long strideB, float beta,
                                        long c, long ldc, long strideC, long bias, int act, long r, long ldr, long strideR);
    public static native void vlmc_gemm_variant(int variant);
    public static native void vlmc_attention(int dtype, long q, long ldq, long strideQ, long k, long ldk, long strideK,
                                             long v, long ldv, long strideV, long out, long ldo, long strideO,
                                             long batch, long heads, long lq, long lk, long headDim, float scale,
                                             int causal, long keyMask);
    /** 0 = choose per call (default), 1 or 2 = force that attention variant (see cuda_kernels.h). */
    public static native void vlmc_attention_variant(int v);

    // training (train.cu, attention_backward.cu); workspaces: device scratch of the size the *_workspace call gives
    public static native long vlmc_layernorm_backward_workspace(long rows, long dim, int withParamGrads);
    public static native void vlmc_layernorm_backward(int dtype, long x, long gamma, long dy, long dx, int accumulate,
                                                      long dgamma, long dbeta, long rows, long dim, float eps,
                                                      long workspace, long workspaceBytes);
    public static native void vlmc_activation_backward(int dtype, int act, long x, long dy, long dx, long n);
    public static native void vlmc_l2_normalize_backward(int dtype, long x, long dy, long dx, long rows, long dim, float eps);
    public static native void vlmc_dropout(int dtype, long x, long out, long n, float p, long seed);
    public static native void vlmc_adamw(long param, long grad, long m, long v, long n, float lr, float beta1, float beta2,
                                         float eps, float weightDecay, long step);
    public static native long vlmc_sum_squares_workspace();
    public static native void vlmc_sum_squares(int dtype, long x, long n, long workspace, long workspaceBytes);
    public static native void vlmc_scale(int dtype, long x, long n, float alpha);
    public static native long vlmc_attention_backward_workspace(long batch, long heads, long len, long headDim);
    public static native void vlmc_attention_backward(int dtype, long qkv, long out, long dout, long dqkv, long batch,
                                                      long heads, long len, long headDim, float scale, int causal,
                                                      long keyMask, long workspace, long workspaceBytes);
}
