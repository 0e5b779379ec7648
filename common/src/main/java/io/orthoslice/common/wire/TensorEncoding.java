package io.orthoslice.common.wire;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.tensor.HostArrays;
import io.orthoslice.proto.DType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A host float32 tensor in a {@link WirePrecision} and back. F32 and F16 are one tensor of that
 * type; INT8 is an I8 tensor under the name plus its per-row scales, a float32 tensor of shape
 * {@code [rows]} named {@link Protocol#scaleName}. Decoding is plain float arithmetic (F16 through
 * libtorch on the CPU), so every process decodes the same bytes to the same floats.
 */
public final class TensorEncoding {

  private static final float INT8_MAX = 127f;

  private TensorEncoding() {}

  /** The wire tensors of {@code values} (row-major, {@code shape}) in precision {@code p}. */
  public static List<WireTensor> encode(String name, float[] values, long[] shape, WirePrecision p) {
    return switch (p) {
      case F32 -> List.of(WireTensor.ofFloats(name, values, shape));
      case F16 -> List.of(half(name, values, shape));
      case INT8 -> int8(name, values, shape);
    };
  }

  /** What a receiver decodes from {@code encode(name, values, shape, p)}. */
  public static float[] roundTrip(String name, float[] values, long[] shape, WirePrecision p) {
    return p == WirePrecision.F32 ? values.clone() : decode(byName(encode(name, values, shape, p))).get(name);
  }

  /**
   * Every tensor of a message decoded to float32, by its name; an INT8 tensor consumes its scales.
   *
   * @throws WireFormatException on scales without their tensor or an I8 tensor without (fitting) scales
   */
  public static LinkedHashMap<String, float[]> decode(Map<String, WireTensor> tensors) {
    LinkedHashMap<String, float[]> out = new LinkedHashMap<>();
    for (WireTensor t : tensors.values()) {
      if (Protocol.isScaleName(t.name())) {
        if (!tensors.containsKey(Protocol.scaledName(t.name()))) {
          throw new WireFormatException("scales " + t.name() + " arrived without their tensor");
        }
        continue;
      }
      out.put(t.name(), switch (t.dtype()) {
        case DTYPE_F32 -> t.toFloats();
        case DTYPE_F16 -> fromHalf(t);
        case DTYPE_I8 -> fromInt8(t, tensors.get(Protocol.scaleName(t.name())));
        default -> throw new WireFormatException("tensor " + t.name() + " must be F32, F16 or I8 (with "
            + Protocol.scaleName(t.name()) + "), got " + t.dtype());
      });
    }
    return out;
  }

  /** Rows of a tensor for per-row scales: its first dimension (a 1-D tensor is one row). */
  public static int rows(long[] shape) {
    return shape.length < 2 ? 1 : Math.toIntExact(shape[0]);
  }

  /** Data bytes of one tensor of {@code shape} in precision {@code p}, scales included. */
  public static long bytes(long[] shape, WirePrecision p) {
    long n = Arrays.stream(shape).reduce(1, Math::multiplyExact);
    return switch (p) {
      case F32 -> n * Float.BYTES;
      case F16 -> n * 2;
      case INT8 -> n + (long) rows(shape) * Float.BYTES;
    };
  }

  private static Map<String, WireTensor> byName(List<WireTensor> ts) {
    Map<String, WireTensor> m = new LinkedHashMap<>();
    ts.forEach(t -> m.put(t.name(), t));
    return m;
  }

  private static WireTensor half(String name, float[] values, long[] shape) {
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        NDArray f = HostArrays.of(m, values, new Shape(shape));
        NDArray h = f.toType(DataType.FLOAT16, true)) {
      return WireTensor.of(name, h);
    }
  }

  private static float[] fromHalf(WireTensor t) {
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      return t.toNDArray(m).toType(DataType.FLOAT32, true).toFloatArray();
    }
  }

  private static List<WireTensor> int8(String name, float[] values, long[] shape) {
    int rows = rows(shape);
    int cols = values.length / rows;
    byte[] q = new byte[values.length];
    float[] scales = new float[rows];
    for (int r = 0; r < rows; r++) {
      float max = 0;
      for (int c = r * cols; c < (r + 1) * cols; c++) {
        max = Math.max(max, Math.abs(values[c]));
      }
      float s = max / INT8_MAX;
      scales[r] = s;
      for (int c = r * cols; c < (r + 1) * cols && s > 0; c++) {
        q[c] = (byte) Math.max(-127, Math.min(127, Math.round(values[c] / s)));
      }
    }
    List<WireTensor> out = new ArrayList<>(2);
    out.add(new WireTensor(name, DType.DTYPE_I8, shape.clone(), q));
    out.add(WireTensor.ofFloats(Protocol.scaleName(name), scales, rows));
    return out;
  }

  private static float[] fromInt8(WireTensor t, WireTensor scales) {
    int rows = rows(t.shape());
    if (scales == null || scales.dtype() != DType.DTYPE_F32 || scales.shape().length != 1
        || scales.shape()[0] != rows) {
      throw new WireFormatException("I8 tensor " + t.name() + " needs float32 scales " + Protocol.scaleName(t.name())
          + " of shape [" + rows + "]");
    }
    float[] s = scales.toFloats();
    byte[] q = t.data();
    int cols = q.length / rows;
    float[] out = new float[q.length];
    for (int i = 0; i < q.length; i++) {
      out[i] = q[i] * s[i / cols];
    }
    return out;
  }
}
