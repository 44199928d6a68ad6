package io.vlm4j.tensor;

import io.vlm4j.backend.cpu.NativeKernels;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A dense, row-major tensor in host native memory (device CPU) or GPU memory (device CUDA). A tensor either owns its
 * memory (from {@link #allocate}) and frees it on {@link #close()}, or is a view into another tensor's memory (from
 * {@link #view}) whose close does nothing; a view must not outlive its owner. The array accessors work on both
 * devices (a GPU tensor is staged through host memory); {@link #asByteBuffer()} is host only.
 */
public final class Tensor implements AutoCloseable {
    private final DType dtype;
    private final long[] shape;
    private final Device device;
    private final long address;
    private final long numel;
    private final boolean owner;
    private boolean closed;

    private Tensor(DType dtype, long[] shape, Device device, long address, long numel, boolean owner) {
        this.dtype = dtype;
        this.shape = shape;
        this.device = device;
        this.address = address;
        this.numel = numel;
        this.owner = owner;
    }

    /** Zero-filled host tensor. */
    public static Tensor allocate(DType dtype, long... shape) {
        Objects.requireNonNull(dtype, "dtype");
        long[] s = shape.clone();
        long n = Shapes.numel(s);
        long bytes = Math.multiplyExact(n, (long) dtype.byteSize());
        return new Tensor(dtype, s, Device.CPU, NativeMemory.allocate(bytes), n, true);
    }

    /** Zero-filled host tensor, or uninitialized GPU memory for {@link Device#CUDA}. */
    public static Tensor allocate(Device device, DType dtype, long... shape) {
        if (device == Device.CPU) return allocate(dtype, shape);
        Objects.requireNonNull(dtype, "dtype");
        long[] s = shape.clone();
        long n = Shapes.numel(s);
        long bytes = Math.multiplyExact(n, (long) dtype.byteSize());
        return new Tensor(dtype, s, Device.CUDA, DeviceMemory.allocate(bytes), n, true);
    }

    public static Tensor of(float[] data, long... shape) {
        Tensor t = allocate(DType.F32, shape);
        try {
            t.copyFrom(data);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        return t;
    }

    public static Tensor ofInts(int[] data, long... shape) {
        Tensor t = allocate(DType.I32, shape);
        try {
            t.copyFrom(data);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        return t;
    }

    public DType dtype() { return dtype; }

    public Device device() { return device; }

    public long[] shape() { return shape.clone(); }

    public int rank() { return shape.length; }

    /** Size of dimension {@code i}; negative i counts from the end. */
    public long dim(int i) {
        int j = i < 0 ? shape.length + i : i;
        if (j < 0 || j >= shape.length) throw new IndexOutOfBoundsException("dim " + i + " of rank-" + shape.length + " tensor");
        return shape[j];
    }

    public long numel() { return numel; }

    public long byteSize() { return numel * dtype.byteSize(); }

    /** Native address of the first element, for backends. Throws if the tensor was closed. */
    public long address() {
        if (closed) throw new IllegalStateException("tensor " + this + " is closed");
        return address;
    }

    /**
     * A view of {@code numel(shape)} elements starting {@code elementOffset} elements into this tensor.
     * Shares memory; closing the view does not free it.
     */
    public Tensor view(long elementOffset, long... shape) {
        long n = Shapes.numel(shape);
        if (elementOffset < 0 || elementOffset > numel || n > numel - elementOffset) {
            throw new IllegalArgumentException("view of " + Arrays.toString(shape) + " at offset " + elementOffset
                    + " does not fit in " + this);
        }
        return new Tensor(dtype, shape.clone(), device, address() + elementOffset * dtype.byteSize(), n, false);
    }

    /** The same memory seen with another shape of the same element count. */
    public Tensor reshape(long... shape) {
        if (Shapes.numel(shape) != numel) {
            throw new IllegalArgumentException("cannot reshape " + this + " to " + Arrays.toString(shape));
        }
        return view(0, shape);
    }

    public void copyFrom(float[] data) {
        requireType(DType.F32);
        requireLength(data.length);
        if (device != Device.CPU) {
            try (Tensor host = of(data, shape)) {
                copyFrom(host);
            }
            return;
        }
        new FloatPointer(raw()).put(data, 0, data.length);
    }

    public void copyFrom(int[] data) {
        requireType(DType.I32);
        requireLength(data.length);
        if (device != Device.CPU) {
            try (Tensor host = ofInts(data, shape)) {
                copyFrom(host);
            }
            return;
        }
        new IntPointer(raw()).put(data, 0, data.length);
    }

    /** Copies raw little-endian bytes (e.g. F16 or BF16 payloads) into this tensor. */
    public void copyFrom(ByteBuffer bytes) {
        if (bytes.remaining() != byteSize()) {
            throw new IllegalArgumentException("expected " + byteSize() + " bytes for " + this + ", got " + bytes.remaining());
        }
        if (device != Device.CPU) {
            try (Tensor host = allocate(dtype, shape)) {
                host.copyFrom(bytes);
                copyFrom(host);
            }
            return;
        }
        BytePointer dst = new BytePointer(raw());
        dst.capacity(byteSize());
        dst.asBuffer().put(bytes.duplicate());
    }

    /** Copies all elements of {@code src} (same dtype and element count) into this tensor. */
    public void copyFrom(Tensor src) {
        if (src.dtype != dtype || src.numel != numel) {
            throw new IllegalArgumentException("cannot copy " + src + " into " + this);
        }
        if (device == Device.CPU && src.device == Device.CPU) NativeKernels.vlm_copy(address(), src.address(), byteSize());
        else DeviceMemory.copy(address(), device, src.address(), src.device, byteSize());
    }

    public float[] toFloatArray() {
        requireType(DType.F32);
        if (device != Device.CPU) {
            try (Tensor host = allocate(dtype, shape)) {
                host.copyFrom(this);
                return host.toFloatArray();
            }
        }
        float[] out = new float[Math.toIntExact(numel)];
        new FloatPointer(raw()).get(out, 0, out.length);
        return out;
    }

    /** A rank-2 F32 tensor as rows, [dim(0)][dim(1)] (copied to the host). */
    public float[][] toFloatRows() {
        if (shape.length != 2) throw new IllegalArgumentException("toFloatRows needs a rank-2 tensor, got " + this);
        int n = Math.toIntExact(shape[0]), e = Math.toIntExact(shape[1]);
        float[] flat = toFloatArray();
        float[][] out = new float[n][];
        for (int i = 0; i < n; i++) out[i] = Arrays.copyOfRange(flat, i * e, (i + 1) * e);
        return out;
    }

    public int[] toIntArray() {
        requireType(DType.I32);
        if (device != Device.CPU) {
            try (Tensor host = allocate(dtype, shape)) {
                host.copyFrom(this);
                return host.toIntArray();
            }
        }
        int[] out = new int[Math.toIntExact(numel)];
        new IntPointer(raw()).get(out, 0, out.length);
        return out;
    }

    /** A little-endian ByteBuffer over this tensor's memory (valid while the tensor is open; at most 2 GiB). */
    public ByteBuffer asByteBuffer() {
        if (device != Device.CPU) throw new IllegalStateException(this + " is in GPU memory: copy it to a host tensor first");
        BytePointer p = new BytePointer(raw());
        p.capacity(byteSize());
        return p.asBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    public boolean isClosed() { return closed; }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (owner && device == Device.CPU) NativeMemory.free(address, byteSize());
        else if (owner) DeviceMemory.free(address, byteSize());
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape) + " " + dtype + (device == Device.CPU ? "" : " " + device) + (closed ? " (closed)" : "");
    }

    private Pointer raw() {
        long a = address();
        return new Pointer() {
            {
                address = a;
                limit = byteSize();
                capacity = byteSize();
            }
        };
    }

    private void requireType(DType t) {
        if (dtype != t) throw new IllegalArgumentException("expected " + t + " tensor, got " + this);
    }

    private void requireLength(int n) {
        if (n != numel) throw new IllegalArgumentException("array of " + n + " elements does not match " + this);
    }
}
