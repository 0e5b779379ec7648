package io.orthoslice.common.round;

import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.wire.DeltaUpdate;
import io.orthoslice.common.wire.TensorEncoding;
import io.orthoslice.common.config.WirePrecision;
import io.orthoslice.common.wire.WireTensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The broadcast of every round: the coordinator sends every parameter's change of the round (merge
 * and outer step together, so any mode, merge rule or outer optimizer) in the run's wire precision,
 * and it adopts the weights the workers will rebuild, {@code before + deq(Q(change + e))}, as the next
 * version. Applying it is one float32 addition per value, which IEEE 754 rounds alike on every CPU
 * and GPU, so the coordinator and every worker hold the same bits whatever device computed the merge
 * or holds the replica (a checksum confirms it). The f32 wire sends the change exactly and needs no
 * residual; the lossy ones (and a density below 1) carry their quantisation residual into the next
 * round (error feedback).
 */
public final class DeltaBroadcast {

  /** The weights every side holds after the round, and the encoded changes that lead there. */
  public record Encoded(LinkedHashMap<String, float[]> published, LinkedHashMap<String, WireTensor> tensors) {}

  private final LlamaConfig model;
  private final WirePrecision precision;
  private final double density;
  private final ErrorFeedback feedback = new ErrorFeedback();

  public DeltaBroadcast(LlamaConfig model, WirePrecision precision) {
    this(model, precision, 1.0);
  }

  /** @param density the fraction of every change's entries sent (the largest), as the run's updates */
  public DeltaBroadcast(LlamaConfig model, WirePrecision precision, double density) {
    this.model = model;
    this.precision = precision;
    this.density = density;
  }

  /** Encodes the change from {@code before} to {@code merged}; what workers will hold is {@code published}. */
  public Encoded encode(Map<String, float[]> before, Map<String, float[]> merged) {
    LinkedHashMap<String, float[]> published = new LinkedHashMap<>();
    LinkedHashMap<String, WireTensor> tensors = new LinkedHashMap<>();
    for (ParameterSpec p : model.parameters()) {
      Piece piece = encode(p, before.get(p.name()), merged.get(p.name()));
      published.put(p.name(), piece.published());
      piece.tensors().forEach(t -> tensors.put(t.name(), t));
    }
    return new Encoded(published, tensors);
  }

  /** One parameter's share of a broadcast: the values every side will hold, and the tensors that lead there. */
  public record Piece(float[] published, List<WireTensor> tensors) {}

  /** {@link #encode(Map, Map)} of one parameter, so the coordinator never holds all changes at once. */
  public Piece encode(ParameterSpec p, float[] before, float[] merged) {
    float[] change = new float[merged.length];
    for (int i = 0; i < change.length; i++) {
      change[i] = merged[i] - before[i];
    }
    List<WireTensor> sent = exact()
        ? TensorEncoding.encode(p.name(), change, p.shape(), precision)
        : feedback.dense(p.name(), change, p.shape(), precision, density);
    // The f32 wire carries the change's bits as they are: no decode needed to know what arrives.
    float[] arrives = exact() ? change : TensorEncoding.decoded(sent, p.name(), p.shape());
    float[] published = new float[before.length];
    for (int i = 0; i < published.length; i++) {
      published[i] = before[i] + arrives[i];
    }
    return new Piece(published, sent);
  }

  /** Whether the change travels exactly: the f32 wire, every value sent; no residual is kept then. */
  private boolean exact() {
    return !precision.lossy() && density >= 1.0;
  }

  /** {@code weights + change} per parameter, as every side computes it. */
  public static LinkedHashMap<String, float[]> apply(LlamaConfig model, Map<String, float[]> weights,
      Map<String, float[]> changes) {
    LinkedHashMap<String, float[]> out = new LinkedHashMap<>();
    for (ParameterSpec p : model.parameters()) {
      float[] w = weights.get(p.name());
      float[] d = changes.get(p.name());
      if (d == null || d.length != w.length) {
        throw new IllegalArgumentException("the broadcast lacks a change of " + p.name() + " with "
            + w.length + " values");
      }
      float[] v = new float[w.length];
      for (int i = 0; i < v.length; i++) {
        v[i] = w[i] + d[i];
      }
      out.put(p.name(), v);
    }
    return out;
  }

  /**
   * A worker's rebuild: the weights of {@code u.toVersion()} from those of {@code u.fromVersion()},
   * or empty when they are not the coordinator's bits.
   */
  public static Optional<Map<String, float[]>> rebuild(LlamaConfig model, Map<String, float[]> weights,
      DeltaUpdate u) {
    Map<String, float[]> out = apply(model, weights, decode(model, u.tensors()));
    return WeightsChecksum.of(model, out) == u.weightsChecksum() ? Optional.of(out) : Optional.empty();
  }

  /** The changes of a broadcast, by parameter name. */
  public static Map<String, float[]> decode(LlamaConfig model, Map<String, WireTensor> tensors) {
    Map<String, long[]> shapes = new java.util.HashMap<>();
    model.parameters().forEach(p -> shapes.put(p.name(), p.shape()));
    return TensorEncoding.decode(tensors, shapes::get);
  }

  /** The residuals of the broadcast's error feedback, for a checkpoint. */
  public Map<String, float[]> state() {
    return feedback.state();
  }

  public void restore(Map<String, float[]> state) {
    feedback.restore(state);
  }
}
