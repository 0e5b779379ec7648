package io.orthoslice.common.model;

import ai.djl.Device;

/**
 * How far the forward pass zero-pads a GEMM dimension that is not aligned, per device kind (issue 34,
 * "aligned shapes"). Declared here once; {@link Llama} asks it for the width each GEMM runs at.
 *
 * <p>Why: cuBLAS picks its tensor-core kernels by shape. On an H100 the 1b preset's MLP GEMMs (8192
 * tokens x 2048, width 5461, not a multiple of 8) ran at 125-145 TFLOP/s in fp16 and bf16, while
 * widths 5464, 5504 and 5632 ran at 685-800: 5x on the GEMMs that carry two thirds of the model's
 * FLOPs. torch.compile (Inductor) pads such shapes itself; DJL and eager PyTorch do not.
 *
 * <p>What is padded: the MLP width (gate/up rows, down columns) in every dtype, and in fp16 the
 * vocabulary of the output head (its padded logits are dropped by the cast to fp32 that the loss
 * needs anyway; see {@link Llama#head}). Not the hidden size: every preset's is a multiple of 64, and
 * padding the residual stream would change what RMSNorm averages over, so it is not free to do exactly.
 *
 * <p>Why it is exact: the padded rows of gate_proj and up_proj and the padded columns of down_proj
 * are zeros that exist only inside the step's compute copy; the parameters, their gradients and
 * optimizer state, checkpoints, projections and the wire keep the true shapes. The padded units
 * compute silu(0) * 0 = 0 and feed down_proj's zero columns, so the output is the same function;
 * autograd carries the gradient of the padded copy back through the pad to the true parameter, the
 * padding's share dropped. Only the order of floating-point sums can differ.
 *
 * @param gpuMultiple the multiple on a GPU: 64 (a tensor-core tile edge; every multiple of 8 that
 *     was measured ran fast, and 64 also aligns the tiles, which costs at most 63 extra units)
 * @param cpuMultiple the multiple on the CPU: 1, no padding (oneDNN/MKL have no 8-wide tensor-core
 *     cliff, and the padded units are pure extra work there: tiny's 176 would grow by 9%)
 */
public record GemmAlignment(int gpuMultiple, int cpuMultiple) {

  /** Diagnostics and measurement: one multiple for every device, e.g. 8, or 1 to turn padding off. */
  public static final String MULTIPLE_PROPERTY = "orthoslice.gemm.multiple";

  /** No padding anywhere: the model exactly as its parameters are shaped. */
  public static final GemmAlignment NONE = new GemmAlignment(1, 1);

  public GemmAlignment {
    if (gpuMultiple < 1 || cpuMultiple < 1) {
      throw new IllegalArgumentException(
          "GEMM multiples must be >= 1, got gpu " + gpuMultiple + ", cpu " + cpuMultiple);
    }
  }

  /** 64 on a GPU, none on the CPU, unless {@code -D}{@value #MULTIPLE_PROPERTY} names one multiple. */
  public static GemmAlignment defaults() {
    String m = System.getProperty(MULTIPLE_PROPERTY);
    if (m == null || m.isBlank()) {
      return new GemmAlignment(64, 1);
    }
    try {
      return everywhere(Integer.parseInt(m.trim()));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("-D" + MULTIPLE_PROPERTY + "=" + m + " is not an integer");
    }
  }

  /** The same multiple on every device (tests use it to pad on the CPU). */
  public static GemmAlignment everywhere(int multiple) {
    return new GemmAlignment(multiple, multiple);
  }

  /** {@code n} rounded up to this device's multiple. */
  public long pad(long n, Device device) {
    long m = device.isGpu() ? gpuMultiple : cpuMultiple;
    return (n + m - 1) / m * m;
  }
}
