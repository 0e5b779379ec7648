package io.orthoslice.common.wire;

import io.orthoslice.common.config.WirePrecision;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.tensor.HostArrays;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A host float32 tensor in a {@link WirePrecision} and back. F32 and F16 are one tensor of that
 * type; INT8 is an I8 tensor under the name plus its per-row scales, a float32 tensor of shape
 * {@code [rows]} named {@link Protocol#scaleName}. A sparse change (density below 1) keeps the
 * {@code ceil(density n)} entries of largest magnitude (ties: the lower position first): their values
 * as a 1-D tensor {@code [k]} in the precision (INT8: one scale), and their positions, strictly
 * increasing, as an I32 tensor {@link Protocol#indexName}. Decoding is plain float arithmetic (F16
 * through libtorch on the CPU), so every process decodes the same bytes to the same floats.
 */
public final class TensorEncoding {

  private static final float INT8_MAX = 127f;

  private TensorEncoding() {}

  /** The wire tensors of {@code values} (row-major, {@code shape}) in precision {@code p}. */
  public static List<WireTensor> encode(String name, float[] values, long[] shape, WirePrecision p) {
    return encode(name, values, shape, p, 1.0);
  }

  /** The wire tensors of {@code values} keeping a fraction {@code density} of its entries (1: all). */
  public static List<WireTensor> encode(String name, float[] values, long[] shape, WirePrecision p,
      double density) {
    if (density >= 1) {
      return dense(name, values, shape, p);
    }
    if (!p.lossy()) {
      throw new IllegalArgumentException("a sparse change needs a lossy wire (f16 or int8), not " + p.label());
    }
    int[] idx = largest(values, kept(values.length, density));
    float[] v = new float[idx.length];
    ByteBuffer positions = ByteBuffer.allocate(idx.length * Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < idx.length; i++) {
      v[i] = values[idx[i]];
      positions.putInt(idx[i]);
    }
    List<WireTensor> out = new ArrayList<>(dense(name, v, new long[] {idx.length}, p));
    out.add(new WireTensor(Protocol.indexName(name), WireDType.I32, new long[] {idx.length}, positions.array()));
    return out;
  }

  /** Entries kept of {@code n} at {@code density}: {@code ceil(density n)}, at least 1, at most n. */
  public static int kept(long n, double density) {
    return (int) Math.max(1, Math.min(n, (long) Math.ceil(density * n)));
  }

  /** The positions of the k entries of largest magnitude, increasing (ties: the lower position). */
  private static int[] largest(float[] v, int k) {
    float[] mags = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      mags[i] = Math.abs(v[i]);
    }
    float[] sorted = mags.clone();
    Arrays.sort(sorted);
    float t = sorted[v.length - k];
    int above = 0;
    for (float m : mags) {
      above += m > t ? 1 : 0;
    }
    int ties = k - above; // entries equal to the threshold that still fit, from the lowest position
    int[] out = new int[k];
    int n = 0;
    for (int i = 0; i < v.length && n < k; i++) {
      if (mags[i] > t || (mags[i] == t && ties-- > 0)) {
        out[n++] = i;
      }
    }
    return out;
  }

  private static List<WireTensor> dense(String name, float[] values, long[] shape, WirePrecision p) {
    return switch (p) {
      case F32 -> List.of(WireTensor.ofFloats(name, values, shape));
      case F16 -> List.of(half(name, values, shape));
      case INT8 -> int8(name, values, shape);
    };
  }

  /** What a receiver decodes from {@code encode(name, values, shape, p, density)}. */
  public static float[] roundTrip(String name, float[] values, long[] shape, WirePrecision p, double density) {
    return p == WirePrecision.F32 ? values.clone()
        : decode(byName(encode(name, values, shape, p, density)), n -> shape).get(name);
  }

  /** What a receiver decodes from {@code encode(name, values, shape, p)}. */
  public static float[] roundTrip(String name, float[] values, long[] shape, WirePrecision p) {
    return roundTrip(name, values, shape, p, 1.0);
  }

  /** {@link #decode(Map, Function)} of dense tensors only. */
  public static LinkedHashMap<String, float[]> decode(Map<String, WireTensor> tensors) {
    return decode(tensors, null);
  }

  /**
   * Every tensor of a message decoded to float32, by its name; an INT8 tensor consumes its scales, a
   * sparse one its positions (scattered into zeros of {@code shapes.apply(name)}).
   *
   * @throws WireFormatException on a companion without its tensor, an I8 tensor without (fitting)
   *     scales, or positions that are not strictly increasing within the tensor
   */
  public static LinkedHashMap<String, float[]> decode(Map<String, WireTensor> tensors,
      Function<String, long[]> shapes) {
    LinkedHashMap<String, float[]> out = new LinkedHashMap<>();
    for (WireTensor t : tensors.values()) {
      if (Protocol.isCompanionName(t.name())) {
        if (!tensors.containsKey(Protocol.companionOf(t.name()))) {
          throw new WireFormatException(t.name() + " arrived without its tensor " + Protocol.companionOf(t.name()));
        }
        continue;
      }
      float[] v = switch (t.dtype()) {
        case F32 -> t.toFloats();
        case F16 -> fromHalf(t);
        case I8 -> fromInt8(t, tensors.get(Protocol.scaleName(t.name())));
        default -> throw new WireFormatException("tensor " + t.name() + " must be F32, F16 or I8 (with "
            + Protocol.scaleName(t.name()) + "), got " + t.dtype());
      };
      WireTensor positions = tensors.get(Protocol.indexName(t.name()));
      out.put(t.name(), positions == null ? v : scatter(t.name(), v, positions, shapes));
    }
    return out;
  }

  private static float[] scatter(String name, float[] v, WireTensor positions, Function<String, long[]> shapes) {
    long[] shape = shapes == null ? null : shapes.apply(name);
    if (shape == null) {
      throw new WireFormatException("sparse tensor " + name + " has no known shape here");
    }
    long n = Arrays.stream(shape).reduce(1, Math::multiplyExact);
    if (positions.dtype() != WireDType.I32 || positions.shape().length != 1 || positions.shape()[0] != v.length) {
      throw new WireFormatException(positions.name() + " must be I32 of shape [" + v.length + "]");
    }
    ByteBuffer b = ByteBuffer.wrap(positions.data()).order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[Math.toIntExact(n)];
    int last = -1;
    for (int i = 0; i < v.length; i++) {
      int at = b.getInt();
      if (at <= last || at >= n) {
        throw new WireFormatException(positions.name() + " holds position " + at + " at entry " + i
            + "; positions must increase strictly and lie in [0, " + n + ")");
      }
      out[at] = v[i];
      last = at;
    }
    return out;
  }

  /** Rows of a tensor for per-row scales: its first dimension (a 1-D tensor is one row). */
  public static int rows(long[] shape) {
    return shape.length < 2 ? 1 : Math.toIntExact(shape[0]);
  }

  /** Data bytes of one tensor of {@code shape} in precision {@code p} at {@code density}, companions included. */
  public static long bytes(long[] shape, WirePrecision p, double density) {
    if (density >= 1) {
      return bytes(shape, p);
    }
    long k = kept(Arrays.stream(shape).reduce(1, Math::multiplyExact), density);
    return bytes(new long[] {k}, p) + k * Integer.BYTES;
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

  /** What a receiver decodes of tensor {@code name} from the tensors {@code encode} gave for it. */
  public static float[] decoded(List<WireTensor> sent, String name, long[] shape) {
    return decode(byName(sent), n -> shape).get(name);
  }

  /**
   * Tensor {@code name} of a message with its companions (int8 scales, sparse positions), to decode
   * it alone; empty when the message lacks it.
   */
  public static Map<String, WireTensor> withCompanions(Map<String, WireTensor> tensors, String name) {
    Map<String, WireTensor> out = new LinkedHashMap<>();
    if (!tensors.containsKey(name)) {
      return out;
    }
    for (String n : new String[] {name, Protocol.scaleName(name), Protocol.indexName(name)}) {
      WireTensor t = tensors.get(n);
      if (t != null) {
        out.put(n, t);
      }
    }
    return out;
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
    out.add(new WireTensor(name, WireDType.I8, shape.clone(), q));
    out.add(WireTensor.ofFloats(Protocol.scaleName(name), scales, rows));
    return out;
  }

  private static float[] fromInt8(WireTensor t, WireTensor scales) {
    int rows = rows(t.shape());
    if (scales == null || scales.dtype() != WireDType.F32 || scales.shape().length != 1
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
