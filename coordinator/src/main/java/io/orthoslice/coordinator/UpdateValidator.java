package io.orthoslice.coordinator;

import io.orthoslice.common.round.RoundMerge;
import io.orthoslice.common.wire.WireTensor;
import io.orthoslice.coordinator.CoordinatorException.Code;
import io.orthoslice.proto.DType;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Consumer;

/**
 * What an update must look like in this run: exactly the tensors of
 * {@link RoundMerge#expectedShapes} in float32, so at most {@link #maxBytes()} of data, every value
 * finite and within {@link UpdateLimits#maxAbs}. Anything else is refused whole with
 * INVALID_ARGUMENT before any of it is merged; value refusals are counted by reason.
 */
final class UpdateValidator {

  private final Map<String, long[]> expected;
  private final int rank;
  private final long maxBytes;
  private final double maxAbs;
  private final Consumer<String> refused;

  UpdateValidator(RunSettings settings, Consumer<String> refused) {
    this.expected = RoundMerge.expectedShapes(settings.model(), settings.mode(), settings.rank());
    this.rank = settings.rank();
    this.maxAbs = settings.limits().maxAbs();
    this.refused = refused;
    this.maxBytes = expected.values().stream().mapToLong(s -> Arrays.stream(s).reduce(1, Math::multiplyExact))
        .sum() * Float.BYTES;
  }

  /** Data bytes of a well-formed update; the transport refuses more with RESOURCE_EXHAUSTED. */
  long maxBytes() {
    return maxBytes;
  }

  /** Checks one tensor as soon as it has arrived. */
  void checkTensor(long round, int slot, WireTensor t) {
    long[] shape = expected.get(t.name());
    String where = where(round, slot);
    if (shape == null) {
      throw new CoordinatorException(Code.INVALID_ARGUMENT, where + "unexpected tensor " + t.name());
    }
    if (t.dtype() != DType.DTYPE_F32) {
      throw new CoordinatorException(Code.INVALID_ARGUMENT, where + t.name() + " must be DTYPE_F32, got "
          + t.dtype());
    }
    if (!Arrays.equals(shape, t.shape())) {
      throw new CoordinatorException(Code.INVALID_ARGUMENT, where + t.name() + " has shape "
          + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(shape) + " (rank " + rank + ")");
    }
    java.nio.FloatBuffer v = t.floatView(); // scanned in place: the merge decodes the values once, later
    for (int i = 0; i < v.limit(); i++) {
      float x = v.get(i);
      if (!Float.isFinite(x)) {
        refused.accept("non_finite");
        throw new CoordinatorException(Code.INVALID_ARGUMENT, where + t.name() + " holds " + x + " at element "
            + i + "; updates must be finite");
      }
      if (Math.abs(x) > maxAbs) {
        refused.accept("out_of_bound");
        throw new CoordinatorException(Code.INVALID_ARGUMENT, where + t.name() + " holds " + x + " at element "
            + i + "; update values must lie within +-" + maxAbs + " (--max-update-value)");
      }
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
