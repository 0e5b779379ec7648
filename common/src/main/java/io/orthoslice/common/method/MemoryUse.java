package io.orthoslice.common.method;

/** Bytes held by one parameter's training, measured from live arrays. */
public record MemoryUse(long weightBytes, long gradientBytes, long optimizerBytes, long projectionBytes) {

  public static final MemoryUse ZERO = new MemoryUse(0, 0, 0, 0);

  public MemoryUse plus(MemoryUse o) {
    return new MemoryUse(weightBytes + o.weightBytes, gradientBytes + o.gradientBytes,
        optimizerBytes + o.optimizerBytes, projectionBytes + o.projectionBytes);
  }

  public long total() {
    return weightBytes + gradientBytes + optimizerBytes + projectionBytes;
  }
}
