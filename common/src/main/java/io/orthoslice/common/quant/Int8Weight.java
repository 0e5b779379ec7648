package io.orthoslice.common.quant;

import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Symmetric INT8 with one absmax scale per output row (LLM.int8's vector-wise quantization without
 * outlier decomposition): {@code scale_i = max_j |w_ij| / 127}, {@code code_ij = round(w_ij /
 * scale_i)}. The error of every element is at most scale_i / 2.
 */
public final class Int8Weight implements QuantizedWeight {

  private final Shape shape;
  private final NDArray codes; // (rows, cols) int8
  private final NDArray scales; // (rows) float32

  private Int8Weight(Shape shape, NDArray codes, NDArray scales) {
    this.shape = shape;
    this.codes = codes;
    this.scales = scales;
  }

  /**
   * Quantizes a matrix; the stored arrays belong to {@code owner}. The rounding runs on the host in
   * float64 from the float32 values, so the codes are the same whatever device w is on.
   */
  public static Int8Weight quantize(NDArray w, NDManager owner) {
    Shape shape = w.getShape();
    if (shape.dimension() != 2) {
      throw new IllegalArgumentException("INT8 weight must be a matrix (2-D), got shape " + shape);
    }
    int rows = Math.toIntExact(shape.get(0));
    int cols = Math.toIntExact(shape.get(1));
    float[] values = HostValues.float32(w);
    byte[] code = new byte[values.length];
    float[] scale = new float[rows];
    for (int i = 0; i < rows; i++) {
      float absmax = 0;
      for (int j = 0; j < cols; j++) {
        absmax = Math.max(absmax, Math.abs(values[i * cols + j]));
      }
      scale[i] = absmax / 127f;
      if (scale[i] == 0) {
        continue; // an all-zero row keeps zero codes
      }
      for (int j = 0; j < cols; j++) {
        long q = Math.round(values[i * cols + j] / (double) scale[i]);
        code[i * cols + j] = (byte) Math.max(-127, Math.min(127, q));
      }
    }
    return new Int8Weight(shape, HostArrays.owned(owner.create(code, shape)),
        HostArrays.owned(owner.create(scale, new Shape(rows))));
  }

  /** The stored codes (rows x cols, int8). */
  @Override
  public NDArray codes() {
    return codes;
  }

  /** The stored per-row scales (rows, float32). */
  @Override
  public NDArray scales() {
    return scales;
  }

  @Override
  public Shape shape() {
    return shape;
  }

  @Override
  public NDArray dequantize(NDManager manager, DataType dtype) {
    try (NDManager scope = manager.newSubManager()) {
      // Copies made from the stored arrays land in their owner's manager; move them into our
      // scope at once rather than temp-attaching the shared stored arrays.
      NDArray c = codes.toDevice(manager.getDevice(), true);
      NDArray s = scales.toDevice(manager.getDevice(), true);
      scope.attachAll(c, s);
      NDArray w = c.toType(DataType.FLOAT32, false).muli(s.reshape(shape.get(0), 1));
      NDArray out = dtype == DataType.FLOAT32 ? w : w.toType(dtype, false);
      out.attach(manager);
      return out;
    }
  }

  @Override
  public long storedBytes() {
    return codes.size() * codes.getDataType().getNumOfBytes()
        + scales.size() * scales.getDataType().getNumOfBytes();
  }

  @Override
  public String format() {
    return "int8";
  }

  @Override
  public void close() {
    codes.close();
    scales.close();
  }
}
