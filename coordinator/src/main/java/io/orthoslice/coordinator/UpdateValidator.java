package io.orthoslice.coordinator;

import io.orthoslice.common.round.RoundMerge;
import io.orthoslice.common.wire.Protocol;
import io.orthoslice.common.wire.TensorEncoding;
import io.orthoslice.common.config.WirePrecision;
import io.orthoslice.common.wire.WireTensor;
import io.orthoslice.coordinator.CoordinatorException.Code;
import io.orthoslice.common.wire.WireDType;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * What an update must look like in this run: exactly the tensors of
 * {@link RoundMerge#expectedShapes} in the run's wire precision (float32; float16; int8 with its
 * float32 per-row scales {@code <name>#scale}; below density 1 a sparse change: {@code [k]} values,
 * one scale, {@code <name>#idx} I32 positions), so at most {@link #maxBytes()} of data, every value
 * finite and within {@link UpdateLimits#maxAbs}. Anything else is refused whole with
 * INVALID_ARGUMENT before any of it is merged; value refusals are counted by reason.
 */
public final class UpdateValidator {

  /** Every tensor an update carries, by wire name, with its shape and type (positions: below {@code limit}). */
  private record Expected(long[] shape, WireDType dtype, long limit) {
    Expected(long[] shape, WireDType dtype) {
      this(shape, dtype, 0);
    }
  }

  private final Map<String, Expected> expected = new LinkedHashMap<>();
  private final WirePrecision wire;
  private final int rank;
  private final long maxBytes;
  private final double maxAbs;
  private final Consumer<String> refused;

  UpdateValidator(RunSettings settings, Consumer<String> refused) {
    this.wire = settings.rules().wire();
    this.rank = settings.rank();
    this.maxAbs = settings.limits().maxAbs();
    this.refused = refused;
    double density = settings.rules().density();
    long bytes = 0;
    for (Map.Entry<String, long[]> e : RoundMerge.expectedShapes(settings.model(), settings.mode(), settings.rank())
        .entrySet()) {
      long[] full = e.getValue();
      bytes += TensorEncoding.bytes(full, wire, density);
      long[] shape = full;
      if (density < 1) {
        long n = Arrays.stream(full).reduce(1, Math::multiplyExact);
        shape = new long[] {TensorEncoding.kept(n, density)};
        expected.put(Protocol.indexName(e.getKey()), new Expected(shape, WireDType.I32, n));
      }
      switch (wire) {
        case F32 -> expected.put(e.getKey(), new Expected(shape, WireDType.F32));
        case F16 -> expected.put(e.getKey(), new Expected(shape, WireDType.F16));
        case INT8 -> {
          expected.put(e.getKey(), new Expected(shape, WireDType.I8));
          expected.put(Protocol.scaleName(e.getKey()),
              new Expected(new long[] {TensorEncoding.rows(shape)}, WireDType.F32));
        }
      }
    }
    this.maxBytes = bytes;
  }

  /** Data bytes of a well-formed update; the transport refuses more with RESOURCE_EXHAUSTED. */
  public long maxBytes() {
    return maxBytes;
  }

  /** Checks one tensor as soon as it has arrived. */
  public void checkTensor(long round, int slot, WireTensor t) {
    Expected x = expected.get(t.name());
    String where = where(round, slot);
    if (x == null) {
      throw new CoordinatorException(Code.INVALID_ARGUMENT, where + "unexpected tensor " + t.name());
    }
    if (t.dtype() != x.dtype()) {
      throw new CoordinatorException(Code.INVALID_ARGUMENT, where + t.name() + " must be " + x.dtype() + " (wire "
          + wire.label() + "), got " + t.dtype());
    }
    if (!Arrays.equals(x.shape(), t.shape())) {
      throw new CoordinatorException(Code.INVALID_ARGUMENT, where + t.name() + " has shape "
          + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(x.shape()) + " (rank " + rank + ")");
    }
    switch (t.dtype()) {
      case F32 -> {
        // Scanned in place: the merge decodes the values once, later. An int8 tensor's values are its
        // scales times at most 127.
        double bound = Protocol.isScaleName(t.name()) ? maxAbs / 127 : maxAbs;
        java.nio.FloatBuffer v = t.floatView();
        for (int i = 0; i < v.limit(); i++) {
          checkValue(where, t.name(), v.get(i), i, bound);
        }
      }
      case F16 -> {
        float[] v = TensorEncoding.decode(Map.of(t.name(), t)).get(t.name());
        for (int i = 0; i < v.length; i++) {
          checkValue(where, t.name(), v[i], i, maxAbs);
        }
      }
      case I32 -> {
        // A sparse change's positions: strictly increasing inside its tensor, or the merge could not place them.
        java.nio.IntBuffer at = java.nio.ByteBuffer.wrap(t.data()).order(java.nio.ByteOrder.LITTLE_ENDIAN).asIntBuffer();
        int last = -1;
        for (int i = 0; i < at.limit(); i++) {
          int p = at.get(i);
          if (p <= last || p >= x.limit()) {
            refused.accept("bad_positions");
            throw new CoordinatorException(Code.INVALID_ARGUMENT, where + t.name() + " holds position " + p
                + " at entry " + i + "; positions must increase strictly and lie in [0, " + x.limit() + ")");
          }
          last = p;
        }
      }
      default -> { } // I8: every byte is a value in [-128, 127]; its scales carry the bound
    }
  }

  private void checkValue(String where, String name, float x, int i, double bound) {
    if (!Float.isFinite(x)) {
      refused.accept("non_finite");
      throw new CoordinatorException(Code.INVALID_ARGUMENT, where + name + " holds " + x + " at element "
          + i + "; updates must be finite");
    }
    if (Math.abs(x) > bound) {
      refused.accept("out_of_bound");
      throw new CoordinatorException(Code.INVALID_ARGUMENT, where + name + " holds " + x + " at element "
          + i + "; update values must lie within +-" + maxAbs + " (--max-update-value)");
    }
  }

  /** Checks a whole update: every tensor, none missing, a finite loss. */
  void check(Submission s) {
    for (WireTensor t : s.tensors().values()) {
      checkTensor(s.round(), s.slot(), t);
    }
    for (String name : expected.keySet()) {
      if (!s.tensors().containsKey(name)) {
        throw new CoordinatorException(Code.INVALID_ARGUMENT, where(s.round(), s.slot()) + "missing tensor " + name);
      }
    }
    if (!Double.isFinite(s.meanLoss())) {
      throw new CoordinatorException(Code.INVALID_ARGUMENT, where(s.round(), s.slot()) + "mean loss is "
          + s.meanLoss());
    }
  }

  private static String where(long round, int slot) {
    return "update for round " + (round + 1) + " slot " + slot + ": ";
  }
}
