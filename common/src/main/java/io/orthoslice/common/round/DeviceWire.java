package io.orthoslice.common.round;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.config.WirePrecision;
import io.orthoslice.common.tensor.HostArrays;
import io.orthoslice.common.wire.Protocol;
import io.orthoslice.common.wire.TensorEncoding;
import io.orthoslice.common.wire.WireDType;
import io.orthoslice.common.wire.WireTensor;
import java.util.List;
import java.util.Map;

/**
 * {@link TensorEncoding}'s dense formats computed where the tensor lives: only the encoded bytes cross
 * between host and device. Decoding is the same float32 arithmetic on every device (f16 widened
 * exactly; int8 times its row's scale, one float32 product), and the sender's own copy of what arrives
 * is computed by the very same operations as the receivers', so a coordinator on any device and
 * workers on any other hold the same bits. A sparse tensor (positions) is encoded and decoded on the
 * host.
 */
public final class DeviceWire {

  private DeviceWire() {}

  /** What a send put on the wire, and what every receiver decodes of it (float32, on the sender's device). */
  public record Sent(List<WireTensor> tensors, NDArray arrives) {}

  /**
   * Tensor {@code name} of {@code tensors} (with its companions: int8 scales, sparse positions) as a
   * float32 array of {@code shape} on the device of {@code scope}.
   *
   * @throws IllegalArgumentException when the tensor is missing or does not decode to {@code shape}
   */
  public static NDArray decode(Map<String, WireTensor> tensors, String name, long[] shape, NDManager scope) {
    WireTensor t = tensors.get(name);
    if (t != null && !tensors.containsKey(Protocol.indexName(name)) && java.util.Arrays.equals(t.shape(), shape)) {
      switch (t.dtype()) {
        case F32 -> {
          return t.toNDArray(scope);
        }
        case F16 -> {
          return widen(t.toNDArray(scope));
        }
        case I8 -> {
          WireTensor scales = tensors.get(Protocol.scaleName(name));
          int rows = TensorEncoding.rows(shape);
          if (scales != null && scales.dtype() == WireDType.F32 && scales.shape().length == 1
              && scales.shape()[0] == rows) {
            return dequantize(t.toNDArray(scope), scales.toNDArray(scope), shape);
          }
        }
        default -> { }
      }
    }
    long n = java.util.Arrays.stream(shape).reduce(1, Math::multiplyExact);
    Map<String, WireTensor> own = TensorEncoding.withCompanions(tensors, name);
    float[] d = own.isEmpty() ? null : TensorEncoding.decode(own, x -> shape).get(name);
    if (d == null || d.length != n) {
      throw new IllegalArgumentException("no " + name + " with " + n + " values");
    }
    return HostArrays.of(scope, d, new Shape(shape));
  }

  /**
   * {@code u} (float32, any device) sent as {@code name} in precision {@code p}, keeping the largest
   * fraction {@code density} of its entries; {@link Sent#arrives} belongs to {@code scope}, or is
   * {@code u} itself when it travels exactly (f32, every entry).
   */
  public static Sent encode(String name, NDArray u, long[] shape, WirePrecision p, double density, NDManager scope) {
    if (density < 1.0) {
      List<WireTensor> sent = TensorEncoding.encode(name, u.toFloatArray(), shape, p, density);
      return new Sent(sent, decode(byName(sent), name, shape, scope));
    }
    switch (p) {
      case F32 -> {
        return new Sent(List.of(WireTensor.of(name, u)), u); // the bits as they are
      }
      case F16 -> {
        NDArray half = u.toType(DataType.FLOAT16, true);
        half.attach(scope);
        return new Sent(List.of(WireTensor.of(name, half)), widen(half));
      }
      case INT8 -> {
        int rows = TensorEncoding.rows(shape);
        try (NDManager tmp = scope.newSubManager()) {
          NDArray v = u.reshape(rows, u.size() / rows);
          v.attach(tmp);
          NDArray scale = v.abs().max(new int[] {1}).divi(127f); // float32, as the host encoder's max / 127
          // A row of zeros has scale 0 and sends zeros, as on the host.
          NDArray divisor = NDArrays.where(scale.gt(0f), scale, scale.onesLike()).reshape(rows, 1);
          NDArray q = v.div(divisor).round().clip(-127, 127).toType(DataType.INT8, false).reshape(new Shape(shape));
          q.attach(scope);
          scale.attach(scope);
          List<WireTensor> sent = List.of(WireTensor.of(name, q), WireTensor.of(Protocol.scaleName(name), scale));
          return new Sent(sent, dequantize(q, scale, shape));
        }
      }
      default -> throw new IllegalArgumentException("no device encoding for " + p);
    }
  }

  /** f16 widened to float32 (exact). */
  private static NDArray widen(NDArray half) {
    return half.toType(DataType.FLOAT32, false);
  }

  /** int8 values times their row's float32 scale: one float32 product per value, on every device. */
  private static NDArray dequantize(NDArray q, NDArray scales, long[] shape) {
    int rows = TensorEncoding.rows(shape);
    return q.toType(DataType.FLOAT32, false).reshape(rows, q.size() / rows).muli(scales.reshape(rows, 1))
        .reshape(new Shape(shape));
  }

  private static Map<String, WireTensor> byName(List<WireTensor> ts) {
    Map<String, WireTensor> m = new java.util.LinkedHashMap<>();
    ts.forEach(t -> m.put(t.name(), t));
    return m;
  }
}
