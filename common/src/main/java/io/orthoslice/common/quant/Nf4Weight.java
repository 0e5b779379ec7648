package io.orthoslice.common.quant;

import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;

/**
 * QLoRA's 4-bit NormalFloat (Dettmers et al. 2023): the row-major elements are cut into blocks of
 * 64, each block is divided by its absmax (stored float32), and every value is replaced by the
 * index of the nearest of 16 code values (quantiles of a normal, rescaled to [-1, 1], with an exact
 * 0). Two indices are packed per byte, the first element in the high nibble. When the element count
 * is not a multiple of 64 the last block is padded with zeros, which dequantize drops.
 */
public final class Nf4Weight implements QuantizedWeight {

  public static final int BLOCK = 64;

  /** The NF4 code book from the QLoRA paper (appendix E), ascending. */
  static final float[] CODE_BOOK = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f
  };

  private static final int ZERO_CODE = 7;

  private final Shape shape;
  private final NDArray packed; // (blocks * BLOCK / 2) uint8
  private final NDArray scales; // (blocks) float32

  private Nf4Weight(Shape shape, NDArray packed, NDArray scales) {
    this.shape = shape;
    this.packed = packed;
    this.scales = scales;
  }

  /**
   * Quantizes w of any shape; rounding runs on the host. The stored arrays belong to {@code owner}.
   */
  public static Nf4Weight quantize(NDArray w, NDManager owner) {
    float[] values = HostValues.float32(w);
    if (values.length == 0) {
      throw new IllegalArgumentException(
          "NF4 weight must have at least one element, got shape " + w.getShape());
    }
    int blocks = (values.length + BLOCK - 1) / BLOCK;
    float[] scale = new float[blocks];
    byte[] bytes = new byte[blocks * BLOCK / 2];
    for (int b = 0; b < blocks; b++) {
      int start = b * BLOCK;
      int end = Math.min(values.length, start + BLOCK);
      float absmax = 0;
      for (int i = start; i < end; i++) {
        absmax = Math.max(absmax, Math.abs(values[i]));
      }
      scale[b] = absmax;
      for (int i = start; i < start + BLOCK; i += 2) {
        int hi = i < end ? nearestCode(values[i], absmax) : ZERO_CODE;
        int lo = i + 1 < end ? nearestCode(values[i + 1], absmax) : ZERO_CODE;
        bytes[i / 2] = (byte) (hi << 4 | lo);
      }
    }
    NDArray packed = HostArrays.owned(owner.create(ByteBuffer.wrap(bytes), new Shape(bytes.length), DataType.UINT8));
    return new Nf4Weight(w.getShape(), packed, HostArrays.owned(owner.create(scale, new Shape(blocks))));
  }

  /** Index of the code nearest to value / absmax; ties go to the lower code. */
  static int nearestCode(float value, float absmax) {
    if (absmax == 0) {
      return ZERO_CODE;
    }
    double x = value / (double) absmax;
    int best = 0;
    for (int k = 1; k < CODE_BOOK.length; k++) {
      if (Math.abs(x - CODE_BOOK[k]) < Math.abs(x - CODE_BOOK[best])) {
        best = k;
      }
    }
    return best;
  }

  @Override
  public Shape shape() {
    return shape;
  }

  /** The packed indices (uint8, two per byte, high nibble first). */
  public NDArray packed() {
    return packed;
  }

  @Override
  public NDArray codes() {
    return packed;
  }

  /** The per-block absmax scales (float32). */
  @Override
  public NDArray scales() {
    return scales;
  }

  @Override
  public NDArray dequantize(NDManager manager, DataType dtype) {
    try (NDManager scope = manager.newSubManager()) {
      NDArray p = packed.toDevice(manager.getDevice(), true);
      NDArray s = scales.toDevice(manager.getDevice(), true);
      scope.attachAll(p, s);
      // Unpack the nibbles with exact small-integer arithmetic in float32: hi = floor(b / 16).
      NDArray bytes = p.toType(DataType.FLOAT32, false);
      NDArray hi = bytes.div(16).floor();
      NDArray lo = bytes.sub(hi.mul(16));
      NDArray idx =
          NDArrays.stack(new NDList(hi, lo), 1)
              .reshape(-1)
              .toType(DataType.INT64, false); // (blocks * BLOCK), element order
      NDArray book = HostArrays.owned(scope.create(CODE_BOOK));
      NDArray values =
          book.gather(idx, 0).reshape(s.size(), BLOCK).muli(s.reshape(s.size(), 1)).reshape(-1);
      long numel = shape.size();
      NDArray w =
          (values.size() == numel ? values : values.get(new NDIndex("0:{}", numel))).reshape(shape);
      NDArray out = w.toType(dtype, true);
      out.attach(manager);
      return out;
    }
  }

  @Override
  public long storedBytes() {
    return packed.size() * packed.getDataType().getNumOfBytes()
        + scales.size() * scales.getDataType().getNumOfBytes();
  }

  @Override
  public String format() {
    return "nf4";
  }

  @Override
  public void close() {
    packed.close();
    scales.close();
  }
}
