package io.vlm4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Device;
import io.vlm4j.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The row-major → column-major mapping of {@link CublasBaseline#gemm}, against a float64 loop (GPU only). */
class CublasBaselineTest {
    @Test
    void rowMajorGemmMatchesAPlainLoop() {
        assumeTrue(CudaStatus.unavailableReason().isEmpty() && CublasBaseline.unavailableReason().isEmpty(),
                () -> "needs a GPU and cuBLAS: " + CudaStatus.unavailableReason().or(CublasBaseline::unavailableReason).orElse(""));
        int m = 37, n = 19, k = 23;  // all different, none a multiple of another: a swapped m/n or ld shows up
        Random r = new Random(7);
        float[] a = new float[m * k], bt = new float[n * k], b = new float[k * n];
        for (int i = 0; i < a.length; i++) a[i] = r.nextFloat() * 2 - 1;
        for (int i = 0; i < bt.length; i++) bt[i] = r.nextFloat() * 2 - 1;
        for (int j = 0; j < n; j++) for (int p = 0; p < k; p++) b[p * n + j] = bt[j * k + p];  // B = Btᵀ, [K, N]
        double[] want = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double) a[i * k + p] * bt[j * k + p];
                want[i * n + j] = s;
            }
        }
        try (CublasBaseline blas = new CublasBaseline(CudaKernels.vlmc_get_stream());
             Tensor da = onGpu(a, m, k); Tensor dbt = onGpu(bt, n, k); Tensor db = onGpu(b, k, n);
             Tensor nt = Tensor.allocate(Device.CUDA, DType.F32, m, n); Tensor nn = Tensor.allocate(Device.CUDA, DType.F32, m, n)) {
            blas.gemm(0, false, true, m, n, k, da.address(), k, dbt.address(), k, nt.address(), n);  // A·Btᵀ, the linear layer
            blas.gemm(0, false, false, m, n, k, da.address(), k, db.address(), n, nn.address(), n);  // A·B
            float[] gotNt = nt.toFloatArray(), gotNn = nn.toFloatArray();
            for (int i = 0; i < want.length; i++) {
                assertEquals(want[i], gotNt[i], 1e-4, "NT at " + i);
                assertEquals(want[i], gotNn[i], 1e-4, "NN at " + i);
            }
            assertTrue(blas.version() >= 130000, "cuBLAS " + blas.version());
            IllegalStateException e = assertThrows(IllegalStateException.class,  // lda < k: cuBLAS refuses, we name it
                    () -> blas.gemm(0, false, true, m, n, k, da.address(), 1, dbt.address(), k, nt.address(), n));
            assertTrue(e.getMessage().startsWith("cublasGemmEx: CUBLAS_STATUS_INVALID_VALUE"), e.getMessage());
        }
    }

    private static Tensor onGpu(float[] v, long rows, long cols) {
        Tensor t = Tensor.allocate(Device.CUDA, DType.F32, rows, cols);
        t.copyFrom(v);
        return t;
    }
}
