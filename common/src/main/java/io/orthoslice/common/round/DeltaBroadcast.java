package io.orthoslice.common.round;

import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.wire.DeltaUpdate;
import io.orthoslice.common.wire.TensorEncoding;
import io.orthoslice.common.config.WirePrecision;
import io.orthoslice.common.wire.WireTensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The broadcast of a run with a lossy wire: the coordinator sends every parameter's change of the
 * round (merge and outer step together, so any mode, merge rule or outer optimizer) in the run's
 * precision, with its own error feedback, and it adopts the weights the workers will rebuild,
 * {@code before + deq(Q(change + e))}, as the next version. The coordinator and every worker compute
 * those with the same float additions, so they hold the same bits (a checksum confirms it).
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
    if (!precision.lossy()) {
      throw new IllegalArgumentException("a delta broadcast is for a lossy wire, not " + precision.label());
    }
    this.model = model;
    this.precision = precision;
    this.density = density;
  }

  /** Encodes the change from {@code before} to {@code merged}; what workers will hold is {@code published}. */
  public Encoded encode(Map<String, float[]> before, Map<String, float[]> merged) {
    LinkedHashMap<String, WireTensor> tensors = new LinkedHashMap<>();
    for (ParameterSpec p : model.parameters()) {
      float[] b = before.get(p.name());
      float[] a = merged.get(p.name());
      float[] change = new float[a.length];
      for (int i = 0; i < a.length; i++) {
        change[i] = a[i] - b[i];
      }
      for (WireTensor t : feedback.dense(p.name(), change, p.shape(), precision, density)) {
        tensors.put(t.name(), t);
      }
    }
    return new Encoded(apply(model, before, decode(model, tensors)), tensors);
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

  private static Map<String, float[]> decode(LlamaConfig model, Map<String, WireTensor> tensors) {
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
