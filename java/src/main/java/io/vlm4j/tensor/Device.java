package io.vlm4j.tensor;

/** Where a tensor's memory lives. CPU tensors are host native memory, usable by the CPU and reference backends. */
public enum Device { CPU, CUDA }
