package io.vlm4j.backend;

import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import java.util.Arrays;

/** Argument checks shared by every backend, so that all of them reject the same bad calls with the same words. */
public final class OpChecks {
    private OpChecks() {}

    public static void requireF32(String op, String name, Tensor t) {
        requireDType(op, name, t, DType.F32);
    }

    /** The activation types a backend may compute in: F32, F16, BF16. */
    public static void requireFloat(String op, String name, Tensor t) {
        requireOpen(op, name, t);
        if (t.dtype() != DType.F32 && t.dtype() != DType.F16 && t.dtype() != DType.BF16) {
            throw new IllegalArgumentException(op + ": " + name + " must be F32, F16 or BF16, got " + t);
        }
    }

    public static void requireDType(String op, String name, Tensor t, DType dtype) {
        requireOpen(op, name, t);
        if (t.dtype() != dtype) throw new IllegalArgumentException(op + ": " + name + " must be " + dtype + ", got " + t);
    }

    public static void requireOpen(String op, String name, Tensor t) {
        if (t == null) throw new IllegalArgumentException(op + ": " + name + " is null");
        if (t.isClosed()) throw new IllegalArgumentException(op + ": " + name + " is closed");
    }

    /** Checks shared by every backend's {@code copyRows}: open tensors of one dtype, every row inside both. */
    public static void checkCopyRows(Tensor src, long srcOffset, long srcStride, Tensor dst, long dstOffset, long dstStride,
                                     long rows, long rowLength) {
        String op = "copyRows";
        requireOpen(op, "src", src);
        requireOpen(op, "dst", dst);
        if (src.dtype() != dst.dtype()) throw new IllegalArgumentException(op + ": dtypes differ: " + src + " -> " + dst);
        if (srcOffset < 0 || dstOffset < 0 || srcStride < 0 || dstStride < 0 || rows < 0 || rowLength < 0) {
            throw new IllegalArgumentException(op + ": offsets, strides and sizes must be >= 0");
        }
        if (rows == 0 || rowLength == 0) return;
        long srcEnd = Math.addExact(Math.addExact(srcOffset, Math.multiplyExact(rows - 1, srcStride)), rowLength);
        long dstEnd = Math.addExact(Math.addExact(dstOffset, Math.multiplyExact(rows - 1, dstStride)), rowLength);
        if (srcEnd > src.numel() || dstEnd > dst.numel()) {
            throw new IllegalArgumentException(op + ": " + rows + " rows of " + rowLength + " reach element " + srcEnd + " of "
                    + src + " / " + dstEnd + " of " + dst);
        }
        if (rows > 1 && (dstStride < rowLength)) throw new IllegalArgumentException(op + ": destination rows overlap");
    }

    /** Checks shared by every backend's {@code convert}: open tensors, equal element counts, int32 only to int32. */
    public static void checkConvert(Tensor src, Tensor dst) {
        requireOpen("convert", "src", src);
        requireOpen("convert", "dst", dst);
        if (src.numel() != dst.numel()) {
            throw new IllegalArgumentException("convert: element counts differ: " + src + " -> " + dst);
        }
        if (src.dtype() == DType.I32 ^ dst.dtype() == DType.I32) {
            throw new IllegalArgumentException("convert: int32 converts only to int32: " + src + " -> " + dst);
        }
    }

    /** Checks shared by every backend's {@code eosPool} (spec 01 section 3.3). */
    public static void checkEosPool(Tensor hidden, Tensor ids, java.util.OptionalInt eosTokenId, Tensor out) {
        checkEosPool(DType.F32, hidden, ids, eosTokenId, out);
    }

    /** As above, with activations (and matmul weights) in {@code act}: F32, F16 or BF16. */
    public static void checkEosPool(DType act, Tensor hidden, Tensor ids, java.util.OptionalInt eosTokenId, Tensor out) {
        String op = "eosPool";
        requireDType(op, "hidden", hidden, act);
        requireRank(op, "hidden", hidden, 3);
        requireDType(op, "ids", ids, DType.I32);
        long b = hidden.dim(0), len = hidden.dim(1), d = hidden.dim(2);
        requireShape(op, "ids", ids, b, len);
        requireDType(op, "out", out, act);
        requireShape(op, "out", out, b, d);
        if (eosTokenId.isPresent() && eosTokenId.getAsInt() < 0) {
            throw new IllegalArgumentException(op + ": eos token id must be >= 0, got " + eosTokenId.getAsInt());
        }
        if (b > 0 && len == 0) throw new IllegalArgumentException(op + ": empty sequences have no EOS position");
    }

    /** Checks shared by every backend's {@code patchEmbed}. */
    public static void checkPatchEmbed(Tensor pixels, Tensor weight, Tensor bias, Tensor out) {
        checkPatchEmbed(DType.F32, pixels, weight, bias, out);
    }

    /** As above, with activations (and matmul weights) in {@code act}: F32, F16 or BF16. */
    public static void checkPatchEmbed(DType act, Tensor pixels, Tensor weight, Tensor bias, Tensor out) {
        String op = "patchEmbed";
        requireF32(op, "pixels", pixels);
        requireDType(op, "weight", weight, act);
        requireDType(op, "out", out, act);
        requireRank(op, "pixels", pixels, 4);
        requireRank(op, "weight", weight, 4);
        long bsz = pixels.dim(0), c = pixels.dim(1), h = pixels.dim(2), w = pixels.dim(3);
        long d = weight.dim(0), p = weight.dim(2);
        requireShape(op, "weight", weight, d, c, p, p);
        if (p <= 0 || h < p || w < p) {
            throw new IllegalArgumentException(op + ": image " + h + "x" + w + " is smaller than the patch " + p);
        }
        requireShape(op, "out", out, bsz, (h / p) * (w / p), d);
        if (bias != null) {
            requireF32(op, "bias", bias);
            requireShape(op, "bias", bias, d);
        }
    }

    /** Checks shared by every backend's {@code layerNorm}. */
    public static void checkLayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor out) {
        checkLayerNorm(DType.F32, x, gamma, beta, eps, out);
    }

    /** As above, with activations (and matmul weights) in {@code act}: F32, F16 or BF16. */
    public static void checkLayerNorm(DType act, Tensor x, Tensor gamma, Tensor beta, float eps, Tensor out) {
        String op = "layerNorm";
        checkUnary(act, op, x, out);
        long dim = x.dim(-1);
        requireF32(op, "gamma", gamma);
        requireShape(op, "gamma", gamma, dim);
        requireF32(op, "beta", beta);
        requireShape(op, "beta", beta, dim);
        if (!(eps > 0)) throw new IllegalArgumentException(op + ": eps must be > 0, got " + eps);
    }

    /** Checks of an elementwise or row-wise op: F32 x and out of the same shape. */
    public static void checkUnary(String op, Tensor x, Tensor out) {
        checkUnary(DType.F32, op, x, out);
    }

    /** As above, with activations (and matmul weights) in {@code act}: F32, F16 or BF16. */
    public static void checkUnary(DType act, String op, Tensor x, Tensor out) {
        requireDType(op, "x", x, act);
        requireDType(op, "out", out, act);
        requireSameShape(op, "out", out, x);
    }

    /** Checks shared by every backend's {@code add}. */
    public static void checkAdd(Tensor a, Tensor b, Tensor out) {
        checkAdd(DType.F32, a, b, out);
    }

    /** As above, with activations (and matmul weights) in {@code act}: F32, F16 or BF16. */
    public static void checkAdd(DType act, Tensor a, Tensor b, Tensor out) {
        requireDType("add", "a", a, act);
        requireDType("add", "b", b, act);
        requireDType("add", "out", out, act);
        requireSameShape("add", "b", b, a);
        requireSameShape("add", "out", out, a);
    }

    /** Checks shared by every backend's {@code addBroadcast}: suffix's shape must end x's shape. */
    public static void checkAddBroadcast(Tensor x, Tensor suffix) {
        checkAddBroadcast(DType.F32, x, suffix);
    }

    /** As above, with activations (and matmul weights) in {@code act}: F32, F16 or BF16. */
    public static void checkAddBroadcast(DType act, Tensor x, Tensor suffix) {
        requireDType("addBroadcast", "x", x, act);
        requireDType("addBroadcast", "suffix", suffix, act);
        long[] xs = x.shape(), ss = suffix.shape();
        if (ss.length > xs.length || !Arrays.equals(ss, Arrays.copyOfRange(xs, xs.length - ss.length, xs.length))) {
            throw new IllegalArgumentException("addBroadcast: " + suffix + " is not a suffix of " + x);
        }
    }

    /** Checks shared by every backend's {@code gather} (ids are range-checked by the op itself). */
    public static void checkGather(Tensor table, Tensor ids, Tensor out) {
        checkGather(DType.F32, table, ids, out);
    }

    /** As above, with activations (and matmul weights) in {@code act}: F32, F16 or BF16. */
    public static void checkGather(DType act, Tensor table, Tensor ids, Tensor out) {
        String op = "gather";
        requireDType(op, "table", table, act);
        requireRank(op, "table", table, 2);
        requireDType(op, "ids", ids, DType.I32);
        requireDType(op, "out", out, act);
        long n = ids.numel(), d = table.dim(1);
        if (out.numel() != n * d || out.dim(-1) != d) {
            throw new IllegalArgumentException(op + ": out must hold " + n + " rows of " + d + ", got " + out);
        }
    }

    /**
     * Runs a kernel that validates the data it reads (token ids in range, an EOS in every row). Its C++
     * std::invalid_argument / std::out_of_range reaches Java as a plain RuntimeException (JavaCPP); it is rethrown
     * as the IllegalArgumentException the {@link Backend} contract promises for bad input.
     */
    public static void dataChecked(Runnable kernel) {
        try {
            kernel.run();
        } catch (RuntimeException e) {
            if (e.getClass() != RuntimeException.class) throw e;
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    public static void requireRank(String op, String name, Tensor t, int rank) {
        if (t.rank() != rank) throw new IllegalArgumentException(op + ": " + name + " must have rank " + rank + ", got " + t);
    }

    public static void requireShape(String op, String name, Tensor t, long... shape) {
        if (t == null) throw new IllegalArgumentException(op + ": " + name + " is null");
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException(op + ": " + name + " must have shape " + Arrays.toString(shape) + ", got " + t);
        }
    }

    public static void requireSameShape(String op, String name, Tensor t, Tensor like) {
        requireShape(op, name, t, like.shape());
    }

    public static void requirePositive(String op, String name, long v) {
        if (v <= 0) throw new IllegalArgumentException(op + ": " + name + " must be > 0, got " + v);
    }

    /** {@code shape} with its last dimension replaced by {@code last}. */
    public static long[] withLast(long[] shape, long last) {
        if (shape.length == 0) throw new IllegalArgumentException("scalar tensor where a rank >= 1 tensor is needed");
        long[] s = shape.clone();
        s[s.length - 1] = last;
        return s;
    }

    /** Product of all dimensions but the last: the number of rows of a row-wise op. */
    public static long rows(Tensor t) {
        if (t.rank() == 0) throw new IllegalArgumentException("scalar tensor where a rank >= 1 tensor is needed");
        long last = t.dim(-1);
        return last == 0 ? 0 : t.numel() / last;
    }

    /** Validated geometry of a matmul call, shared by the backends. */
    public record MatmulShape(long batch, long m, long n, long k, boolean sharedB) {}

    public static MatmulShape matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor bias, Tensor residual, Tensor out) {
        return matmul(DType.F32, a, transA, b, transB, bias, residual, out);
    }

    /** As above, with activations (and matmul weights) in {@code act}: F32, F16 or BF16. */
    public static MatmulShape matmul(DType act, Tensor a, boolean transA, Tensor b, boolean transB, Tensor bias, Tensor residual, Tensor out) {
        return matmul(act, act, a, transA, b, transB, bias, residual, out);
    }

    /** As above with the right operand {@code b} in {@code weight} (F32 activations times BF16 weights on the CPU). */
    public static MatmulShape matmul(DType act, DType weight, Tensor a, boolean transA, Tensor b, boolean transB, Tensor bias,
                                     Tensor residual, Tensor out) {
        String op = "matmul";
        requireDType(op, "a", a, act);
        requireDType(op, "b", b, weight);
        requireDType(op, "out", out, act);
        if (a.rank() < 2) throw new IllegalArgumentException(op + ": a must have rank >= 2, got " + a);
        if (b.rank() != 2 && b.rank() != a.rank()) {
            throw new IllegalArgumentException(op + ": b must have rank 2 or the rank of a, got a=" + a + " b=" + b);
        }
        long m = transA ? a.dim(-1) : a.dim(-2);
        long k = transA ? a.dim(-2) : a.dim(-1);
        long kb = transB ? b.dim(-1) : b.dim(-2);
        long n = transB ? b.dim(-2) : b.dim(-1);
        if (k != kb) {
            throw new IllegalArgumentException(op + ": inner dimensions differ: a=" + a + (transA ? "ᵀ" : "")
                    + " b=" + b + (transB ? "ᵀ" : "") + " (" + k + " vs " + kb + ")");
        }
        long[] lead = Arrays.copyOf(a.shape(), a.rank() - 2);
        boolean shared = b.rank() == 2 && a.rank() != 2;
        if (!shared && !Arrays.equals(lead, Arrays.copyOf(b.shape(), b.rank() - 2))) {
            throw new IllegalArgumentException(op + ": batch dimensions differ: a=" + a + " b=" + b);
        }
        long[] outShape = Arrays.copyOf(lead, lead.length + 2);
        outShape[lead.length] = m;
        outShape[lead.length + 1] = n;
        requireShape(op, "out", out, outShape);
        if (bias != null) {
            requireF32(op, "bias", bias);
            requireShape(op, "bias", bias, n);
        }
        if (residual != null) {
            requireDType(op, "residual", residual, act);
            requireSameShape(op, "residual", residual, out);
        }
        long batch = 1;
        for (long d : lead) batch = Math.multiplyExact(batch, d);
        return new MatmulShape(batch, m, n, k, shared);
    }

    /** Validated geometry of an attention call. */
    public record AttentionShape(long batch, long lq, long lk, long headDim) {}

    public static AttentionShape attention(Tensor q, Tensor k, Tensor v, Tensor out, int heads, Tensor keyMask) {
        return attention(DType.F32, q, k, v, out, heads, keyMask);
    }

    /** As above, with activations (and matmul weights) in {@code act}: F32, F16 or BF16. */
    public static AttentionShape attention(DType act, Tensor q, Tensor k, Tensor v, Tensor out, int heads, Tensor keyMask) {
        String op = "attention";
        requireDType(op, "q", q, act);
        requireDType(op, "k", k, act);
        requireDType(op, "v", v, act);
        requireDType(op, "out", out, act);
        requireRank(op, "q", q, 3);
        requireRank(op, "k", k, 3);
        requirePositive(op, "heads", heads);
        long width = q.dim(2);
        if (width % heads != 0) {
            throw new IllegalArgumentException(op + ": width " + width + " is not divisible by " + heads + " heads");
        }
        requireShape(op, "k", k, q.dim(0), k.dim(1), width);
        requireSameShape(op, "v", v, k);
        requireSameShape(op, "out", out, q);
        if (keyMask != null) {
            requireDType(op, "keyMask", keyMask, DType.I32);
            requireShape(op, "keyMask", keyMask, q.dim(0), k.dim(1));
        }
        return new AttentionShape(q.dim(0), q.dim(1), k.dim(1), width / heads);
    }

    /** Validates an attentionPacked call and returns the width H·d of one of q, k, v. */
    public static long attentionPacked(Tensor qkv, Tensor out, int heads, Tensor keyMask) {
        return attentionPacked(DType.F32, qkv, out, heads, keyMask);
    }

    /** As above, with activations (and matmul weights) in {@code act}: F32, F16 or BF16. */
    public static long attentionPacked(DType act, Tensor qkv, Tensor out, int heads, Tensor keyMask) {
        return attentionPacked("attentionPacked", act, qkv, out, heads, keyMask);
    }

    private static long attentionPacked(String op, DType act, Tensor qkv, Tensor out, int heads, Tensor keyMask) {
        requireDType(op, "qkv", qkv, act);
        requireRank(op, "qkv", qkv, 3);
        requireDType(op, "out", out, act);
        requirePositive(op, "heads", heads);
        long b = qkv.dim(0), len = qkv.dim(1), w3 = qkv.dim(2);
        if (w3 % 3 != 0) throw new IllegalArgumentException(op + ": last dimension " + w3 + " is not 3·width");
        long w = w3 / 3;
        if (w % heads != 0) throw new IllegalArgumentException(op + ": width " + w + " is not divisible by " + heads + " heads");
        requireShape(op, "out", out, b, len, w);
        if (keyMask != null) {
            requireDType(op, "keyMask", keyMask, DType.I32);
            requireShape(op, "keyMask", keyMask, b, len);
        }
        return w;
    }

    // ---- training ops ----

    /** Checks a layerNormBackward call (activations in {@code act}). */
    public static void checkLayerNormBackward(DType act, Tensor x, Tensor gamma, float eps, Tensor dy, Tensor dx,
                                              boolean accumulate, Tensor dGamma, Tensor dBeta) {
        String op = "layerNormBackward";
        requireDType(op, "x", x, act);
        if (x.rank() < 1) throw new IllegalArgumentException(op + ": x must have rank >= 1, got " + x);
        long d = x.dim(-1);
        requireF32(op, "gamma", gamma);
        requireShape(op, "gamma", gamma, d);
        requireDType(op, "dy", dy, act);
        requireSameShape(op, "dy", dy, x);
        requireDType(op, "dx", dx, act);
        requireSameShape(op, "dx", dx, x);
        if (!(eps > 0f) || !Float.isFinite(eps)) throw new IllegalArgumentException(op + ": eps must be finite and > 0, got " + eps);
        if (accumulate && dx.address() == dy.address()) {
            throw new IllegalArgumentException(op + ": dx may not alias dy when accumulating");
        }
        if (dGamma != null) {
            requireF32(op, "dGamma", dGamma);
            requireShape(op, "dGamma", dGamma, d);
        }
        if (dBeta != null) {
            requireF32(op, "dBeta", dBeta);
            requireShape(op, "dBeta", dBeta, d);
        }
        if (dGamma != null && dBeta != null) requireDisjoint(op, "dGamma", dGamma, "dBeta", dBeta);
    }

    /** Checks an activationBackward / l2NormalizeBackward style call: x, dy, dx of one shape in {@code act}. */
    public static void checkUnaryBackward(DType act, String op, Tensor x, Tensor dy, Tensor dx) {
        requireDType(op, "x", x, act);
        requireDType(op, "dy", dy, act);
        requireSameShape(op, "dy", dy, x);
        requireDType(op, "dx", dx, act);
        requireSameShape(op, "dx", dx, x);
    }

    /** Checks an attentionPackedBackward call; returns the width H·d. */
    public static long attentionPackedBackward(DType act, Tensor qkv, Tensor out, Tensor dOut, Tensor dQkv, int heads,
                                               Tensor keyMask) {
        String op = "attentionPackedBackward";
        long w = attentionPacked(op, act, qkv, out, heads, keyMask);
        requireDType(op, "dOut", dOut, act);
        requireSameShape(op, "dOut", dOut, out);
        requireDType(op, "dQkv", dQkv, act);
        requireSameShape(op, "dQkv", dQkv, qkv);
        // dQkv is written while q, k, v, out and dOut are still being read
        requireDisjoint(op, "dQkv", dQkv, "qkv", qkv);
        requireDisjoint(op, "dQkv", dQkv, "out", out);
        requireDisjoint(op, "dQkv", dQkv, "dOut", dOut);
        return w;
    }

    /** Throws unless the memory of {@code a} and {@code b} (same device) does not overlap. */
    public static void requireDisjoint(String op, String nameA, Tensor a, String nameB, Tensor b) {
        if (a.device() != b.device() || a.byteSize() == 0 || b.byteSize() == 0) return;
        long a0 = a.address(), b0 = b.address();
        if (a0 < b0 + b.byteSize() && b0 < a0 + a.byteSize()) {
            throw new IllegalArgumentException(op + ": " + nameA + " may not share memory with " + nameB + ": " + a + ", " + b);
        }
    }

    /** Checks a dropout call. */
    public static void checkDropout(DType act, Tensor x, float p, Tensor out) {
        checkUnary(act, "dropout", x, out);
        if (!(p >= 0f && p < 1f)) throw new IllegalArgumentException("dropout: p must be in [0, 1), got " + p);
    }

    /** Checks an adamw call: four F32 tensors of one shape, finite hyper-parameters, step >= 1. */
    public static void checkAdamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                                  float weightDecay, long step) {
        String op = "adamw";
        requireF32(op, "param", param);
        requireF32(op, "grad", grad);
        requireSameShape(op, "grad", grad, param);
        requireF32(op, "m", m);
        requireSameShape(op, "m", m, param);
        requireF32(op, "v", v);
        requireSameShape(op, "v", v, param);
        if (!(lr >= 0f) || !Float.isFinite(lr)) throw new IllegalArgumentException(op + ": lr must be finite and >= 0, got " + lr);
        if (!(beta1 >= 0f && beta1 < 1f)) throw new IllegalArgumentException(op + ": beta1 must be in [0, 1), got " + beta1);
        if (!(beta2 >= 0f && beta2 < 1f)) throw new IllegalArgumentException(op + ": beta2 must be in [0, 1), got " + beta2);
        if (!(eps > 0f) || !Float.isFinite(eps)) throw new IllegalArgumentException(op + ": eps must be finite and > 0, got " + eps);
        if (!(weightDecay >= 0f) || !Float.isFinite(weightDecay)) {
            throw new IllegalArgumentException(op + ": weightDecay must be finite and >= 0, got " + weightDecay);
        }
        if (step < 1) throw new IllegalArgumentException(op + ": step must be >= 1, got " + step);
    }

    /** Checks a sumSquares call: x in {@code act}. */
    public static void checkSumSquares(DType act, Tensor x) {
        requireDType("sumSquares", "x", x, act);
    }

    /** Checks a scale call: x in {@code act}, a finite alpha. */
    public static void checkScale(DType act, Tensor x, float alpha) {
        requireDType("scale", "x", x, act);
        if (!Float.isFinite(alpha)) throw new IllegalArgumentException("scale: alpha must be finite, got " + alpha);
    }
}
