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

    public static void requireDType(String op, String name, Tensor t, DType dtype) {
        requireOpen(op, name, t);
        if (t.dtype() != dtype) throw new IllegalArgumentException(op + ": " + name + " must be " + dtype + ", got " + t);
    }

    public static void requireOpen(String op, String name, Tensor t) {
        if (t == null) throw new IllegalArgumentException(op + ": " + name + " is null");
        if (t.isClosed()) throw new IllegalArgumentException(op + ": " + name + " is closed");
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
        String op = "eosPool";
        requireF32(op, "hidden", hidden);
        requireRank(op, "hidden", hidden, 3);
        requireDType(op, "ids", ids, DType.I32);
        long b = hidden.dim(0), len = hidden.dim(1), d = hidden.dim(2);
        requireShape(op, "ids", ids, b, len);
        requireF32(op, "out", out);
        requireShape(op, "out", out, b, d);
        if (eosTokenId.isPresent() && eosTokenId.getAsInt() < 0) {
            throw new IllegalArgumentException(op + ": eos token id must be >= 0, got " + eosTokenId.getAsInt());
        }
        if (b > 0 && len == 0) throw new IllegalArgumentException(op + ": empty sequences have no EOS position");
    }

    /** Checks shared by every backend's {@code patchEmbed}. */
    public static void checkPatchEmbed(Tensor pixels, Tensor weight, Tensor bias, Tensor out) {
        String op = "patchEmbed";
        requireF32(op, "pixels", pixels);
        requireF32(op, "weight", weight);
        requireF32(op, "out", out);
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
        String op = "layerNorm";
        checkUnary(op, x, out);
        long dim = x.dim(-1);
        requireF32(op, "gamma", gamma);
        requireShape(op, "gamma", gamma, dim);
        requireF32(op, "beta", beta);
        requireShape(op, "beta", beta, dim);
        if (!(eps > 0)) throw new IllegalArgumentException(op + ": eps must be > 0, got " + eps);
    }

    /** Checks of an elementwise or row-wise op: F32 x and out of the same shape. */
    public static void checkUnary(String op, Tensor x, Tensor out) {
        requireF32(op, "x", x);
        requireF32(op, "out", out);
        requireSameShape(op, "out", out, x);
    }

    /** Checks shared by every backend's {@code add}. */
    public static void checkAdd(Tensor a, Tensor b, Tensor out) {
        requireF32("add", "a", a);
        requireF32("add", "b", b);
        requireF32("add", "out", out);
        requireSameShape("add", "b", b, a);
        requireSameShape("add", "out", out, a);
    }

    /** Checks shared by every backend's {@code addBroadcast}: suffix's shape must end x's shape. */
    public static void checkAddBroadcast(Tensor x, Tensor suffix) {
        requireF32("addBroadcast", "x", x);
        requireF32("addBroadcast", "suffix", suffix);
        long[] xs = x.shape(), ss = suffix.shape();
        if (ss.length > xs.length || !Arrays.equals(ss, Arrays.copyOfRange(xs, xs.length - ss.length, xs.length))) {
            throw new IllegalArgumentException("addBroadcast: " + suffix + " is not a suffix of " + x);
        }
    }

    /** Checks shared by every backend's {@code gather} (ids are range-checked by the op itself). */
    public static void checkGather(Tensor table, Tensor ids, Tensor out) {
        String op = "gather";
        requireF32(op, "table", table);
        requireRank(op, "table", table, 2);
        requireDType(op, "ids", ids, DType.I32);
        requireF32(op, "out", out);
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

    public static MatmulShape matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor bias,
                                     Tensor residual, Tensor out) {
        String op = "matmul";
        requireF32(op, "a", a);
        requireF32(op, "b", b);
        requireF32(op, "out", out);
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
            requireF32(op, "residual", residual);
            requireSameShape(op, "residual", residual, out);
        }
        long batch = 1;
        for (long d : lead) batch = Math.multiplyExact(batch, d);
        return new MatmulShape(batch, m, n, k, shared);
    }

    /** Validated geometry of an attention call. */
    public record AttentionShape(long batch, long lq, long lk, long headDim) {}

    public static AttentionShape attention(Tensor q, Tensor k, Tensor v, Tensor out, int heads, Tensor keyMask) {
        String op = "attention";
        requireF32(op, "q", q);
        requireF32(op, "k", k);
        requireF32(op, "v", v);
        requireF32(op, "out", out);
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
        String op = "attentionPacked";
        requireF32(op, "qkv", qkv);
        requireRank(op, "qkv", qkv, 3);
        requireF32(op, "out", out);
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
}
