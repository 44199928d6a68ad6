package io.vlm4j.backend.cuda;

import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F;
import static org.bytedeco.cuda.global.cublas.CUBLAS_GEMM_DEFAULT;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.CUBLAS_STATUS_SUCCESS;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16BF;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16F;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32F;

import java.util.Optional;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.javacpp.FloatPointer;

/**
 * cuBLAS through the JavaCPP presets, as the baseline our GEMM kernels are measured against: one handle bound to a
 * stream, and row-major GEMMs on device memory from our own allocator ({@link CudaKernels#vlmc_malloc}; the pointers
 * are valid here because the static runtime of our kernels and the presets' dynamic libcudart share the device's
 * primary context). Every cuBLAS status other than success becomes an {@link IllegalStateException} naming the call.
 */
public final class CublasBaseline implements AutoCloseable {
    private final cublasContext handle = new cublasContext();
    private final FloatPointer alpha = new FloatPointer(1f);
    private final FloatPointer beta = new FloatPointer(0f);
    private boolean closed;

    /** Empty when cuBLAS can be used (driver, libcudart.so.13, libcublas.so.13, a device); else why not. */
    public static Optional<String> unavailableReason() {
        Optional<String> runtime = CudaDevices.unavailableReason();
        if (runtime.isPresent()) return runtime;
        return CudaPresets.load(CudaPresets.CUBLAS);
    }

    /** A handle whose work goes to {@code stream} (a cudaStream_t as a long; 0 = the legacy default stream). */
    public CublasBaseline(long stream) {
        unavailableReason().ifPresent(why -> {
            throw new IllegalStateException("cuBLAS unavailable: " + why);
        });
        check("cublasCreate", cublas.cublasCreate_v2(handle));
        try {
            check("cublasSetStream", cublas.cublasSetStream_v2(handle, new CUstream_st(CudaPresets.at(stream))));
        } catch (RuntimeException e) {
            cublas.cublasDestroy_v2(handle);
            throw e;
        }
    }

    /** cuBLAS's version as an integer (e.g. 130100 for 13.1.0). */
    public int version() {
        int[] v = new int[1];
        check("cublasGetVersion", cublas.cublasGetVersion_v2(handle, v));
        return v[0];
    }

    /**
     * Row-major {@code C[m,n] = op(A) · op(B)} with A, B, C in {@code dtype} (our codes: 0 F32, 1 F16, 2 BF16), FP32
     * accumulation (CUBLAS_COMPUTE_32F: no TF32 for F32 inputs, tensor cores for F16/BF16), op = transpose when asked.
     *
     * <p>cuBLAS is column-major. A row-major matrix X[r, c] with leading dimension ld is, byte for byte, the
     * column-major matrix Xᵀ (c × r, same ld). So the row-major C = op(A)·op(B) is the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ,
     * and cuBLAS computes that when handed B first and A second, each with the same transpose flag the row-major
     * call had, and the sizes swapped: m' = n, n' = m, k' = k, lda' = ldb, ldb' = lda, ldc' = ldc.
     * For the linear layer ("NT": C[M,N] = A[M,K] · B[N,K]ᵀ, lda = ldb = K, ldc = N) this is
     * {@code cublasGemmEx(op_a = T on B, op_b = N on A, m' = N, n' = M, k = K, B, ldb = K, A, lda = K, C, ldc = N)}.
     * Check: B as a column-major buffer is Bᵀ (K × N), transposed → B (N × K) = m' × k ✓; A as column-major is Aᵀ
     * (K × M) = k × n' ✓; their product B·Aᵀ = (A·Bᵀ)ᵀ = Cᵀ (N × M, ld N), which read row-major is C[M,N] ✓.
     */
    public void gemm(int dtype, boolean transA, boolean transB, long m, long n, long k, long a, long lda, long b,
                     long ldb, long c, long ldc) {
        if (closed) throw new IllegalStateException("cuBLAS handle is closed");
        int type = switch (dtype) {
            case 0 -> CUDA_R_32F;
            case 1 -> CUDA_R_16F;
            case 2 -> CUDA_R_16BF;
            default -> throw new IllegalArgumentException("cublasGemmEx: dtype code must be 0 (F32), 1 (F16) or 2 (BF16), got " + dtype);
        };
        check("cublasGemmEx", cublas.cublasGemmEx(handle, transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N,
                toInt("n", n), toInt("m", m), toInt("k", k), alpha,
                CudaPresets.at(b), type, toInt("ldb", ldb), CudaPresets.at(a), type, toInt("lda", lda),
                beta, CudaPresets.at(c), type, toInt("ldc", ldc), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }

    private static int toInt(String what, long v) {
        if (v < 0 || v > Integer.MAX_VALUE) throw new IllegalArgumentException("cublasGemmEx: " + what + " = " + v + " does not fit cuBLAS's int");
        return (int) v;
    }

    /** Throws {@link IllegalStateException} "call: CUBLAS_STATUS_... (text)" unless {@code status} is success. */
    static void check(String call, int status) {
        if (status == CUBLAS_STATUS_SUCCESS) return;
        String name = String.valueOf(status), text = "";
        try {
            name = cublas.cublasGetStatusName(status).getString();
            text = " (" + cublas.cublasGetStatusString(status).getString() + ")";
        } catch (Throwable t) {  // only the number then
        }
        throw new IllegalStateException(call + ": " + name + text);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        alpha.close();
        beta.close();
        check("cublasDestroy", cublas.cublasDestroy_v2(handle));
    }
}
