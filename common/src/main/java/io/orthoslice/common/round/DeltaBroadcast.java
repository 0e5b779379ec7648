package io.orthoslice.common.round;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.tensor.HostArrays;
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
 * round (error feedback). The coordinator computes all of it where its weights live
 * ({@link DeviceWire}): only the encoded bytes come to the host. Distinct parameters may be sent from
 * several threads at once.
 */
public final class DeltaBroadcast implements AutoCloseable {

  /** The weights every side holds after the round, and the encoded changes that lead there. */
  public record Encoded(LinkedHashMap<String, float[]> published, LinkedHashMap<String, WireTensor> tensors) {}

  private final LlamaConfig model;
  private final WirePrecision precision;
  private final double density;
  private final NDManager manager;
  private final Map<String, NDArray> residual = new java.util.concurrent.ConcurrentHashMap<>();

  public DeltaBroadcast(LlamaConfig model, WirePrecision precision) {
    this(model, precision, 1.0);
  }

  /** @param density the fraction of every change's entries sent (the largest), as the run's updates */
  public DeltaBroadcast(LlamaConfig model, WirePrecision precision, double density) {
    this(model, precision, density, Device.cpu());
  }

  /** @param device where the residuals live: the coordinator's weights' device */
  public DeltaBroadcast(LlamaConfig model, WirePrecision precision, double density, Device device) {
    this.model = model;
    this.precision = precision;
    this.density = density;
    this.manager = NDManager.newBaseManager(device);
  }

  /**
   * Sends parameter {@code p}'s change {@code change} (float32, on the weights' device): adds what every
   * worker will decode to {@code weights} in place and returns the tensors that carry it. The residual
   * of a lossy wire stays on the device.
   */
  public List<WireTensor> send(ParameterSpec p, NDArray weights, NDArray change) {
    try (NDManager scope = manager.newSubManager()) {
      NDArray e = residual.get(p.name());
      NDArray u = change;
      if (e != null && !exact()) {
        u = change.add(e);
        u.attach(scope);
      }
      DeviceWire.Sent sent = DeviceWire.encode(p.name(), u, p.shape(), precision, density, scope);
      if (!exact()) {
        NDArray next = u.sub(sent.arrives());
        next.attach(manager);
        NDArray old = residual.put(p.name(), next);
        if (old != null) {
          old.close();
        }
      }
      weights.addi(sent.arrives());
      return sent.tensors();
    }
  }

  /**
   * Encodes the change from {@code before} to {@code merged} (host arrays, on the CPU); what workers
   * will hold is {@code published}.
   */
  public Encoded encode(Map<String, float[]> before, Map<String, float[]> merged) {
    LinkedHashMap<String, float[]> published = new LinkedHashMap<>();
    LinkedHashMap<String, WireTensor> tensors = new LinkedHashMap<>();
    try (NDManager m = manager.newSubManager()) {
      for (ParameterSpec p : model.parameters()) {
        float[] from = before.get(p.name());
        float[] to = merged.get(p.name());
        float[] change = new float[to.length];
        for (int i = 0; i < change.length; i++) {
          change[i] = to[i] - from[i];
        }
        NDArray w = HostArrays.of(m, from, new Shape(p.shape()));
        send(p, w, HostArrays.of(m, change, new Shape(p.shape()))).forEach(t -> tensors.put(t.name(), t));
        published.put(p.name(), w.toFloatArray());
      }
    }
    return new Encoded(published, tensors);
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

  /** The residuals of the broadcast's error feedback, copied to the host, for a checkpoint. */
  public Map<String, float[]> state() {
    Map<String, float[]> out = new java.util.TreeMap<>();
    residual.forEach((k, v) -> out.put(k, v.toFloatArray()));
    return out;
  }

  public void restore(Map<String, float[]> state) {
    residual.values().forEach(NDArray::close);
    residual.clear();
    for (ParameterSpec p : model.parameters()) {
      float[] e = state.get(p.name());
      if (e != null) {
        residual.put(p.name(), HostArrays.of(manager, e, new Shape(p.shape())));
      }
    }
  }

  @Override
  public void close() {
    residual.clear();
    manager.close();
  }
}
