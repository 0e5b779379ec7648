package io.orthoslice.common.round;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.tensor.HostArrays;
import java.util.Map;

/**
 * DiLoCo's outer optimizer (Douillard et al. 2023): the round's change D is treated as a negative
 * pseudo-gradient and applied with Nesterov momentum, {@code m <- mu m + D; W <- W + lr (D + mu m)}.
 * With mu = 0 and lr = 1 it is the plain merge {@code W <- W + D}. Float32 on the device of the
 * coordinator's weights, one buffer per parameter; the buffers are its whole state (checkpointed by
 * the coordinator). Parameters may be stepped from several threads at once, each parameter by one.
 */
public final class OuterNesterov implements AutoCloseable {

  private final double lr;
  private final double momentum;
  private final NDManager manager;
  private final Map<String, NDArray> velocity = new java.util.concurrent.ConcurrentHashMap<>();

  public OuterNesterov(double lr, double momentum) {
    this(lr, momentum, Device.cpu());
  }

  /** @param device where the momentum buffers live: the coordinator's weights' device */
  public OuterNesterov(double lr, double momentum, Device device) {
    if (!(lr > 0)) {
      throw new IllegalArgumentException("outer-lr must be > 0, got " + lr);
    }
    if (!(momentum >= 0 && momentum < 1)) {
      throw new IllegalArgumentException("outer-momentum must be in [0, 1), got " + momentum);
    }
    this.lr = lr;
    this.momentum = momentum;
    this.manager = NDManager.newBaseManager(device);
  }

  /** True when it differs from the plain merge. */
  public boolean active() {
    return lr != 1.0 || momentum != 0.0;
  }

  /**
   * The change this step makes to parameter {@code name} for the round's change {@code delta} (float32):
   * {@code delta} itself for the plain merge, else a new array of {@code delta}'s manager.
   */
  public NDArray step(String name, NDArray delta) {
    if (!active()) {
      return delta;
    }
    if (momentum == 0.0) {
      return delta.mul(lr);
    }
    NDArray m = velocity.computeIfAbsent(name, n -> {
      NDArray z = delta.zerosLike();
      z.attach(manager);
      return z;
    });
    m.muli(momentum).addi(delta);
    NDArray out = m.mul(momentum).addi(delta).muli(lr);
    out.attach(delta.getManager());
    return out;
  }

  /** W + step(D) on host arrays (a new array; {@code w} and {@code delta} are not modified). */
  public float[] apply(String name, float[] w, float[] delta) {
    if (w.length != delta.length) {
      throw new IllegalArgumentException(name + ": weights hold " + w.length + " values, delta " + delta.length);
    }
    try (NDManager m = manager.newSubManager()) {
      NDArray weights = HostArrays.of(m, w, new Shape(w.length));
      return weights.addi(step(name, HostArrays.of(m, delta, new Shape(delta.length)))).toFloatArray();
    }
  }

  /** The momentum buffers by parameter name, copied to the host, in name order (for checkpoints). */
  public Map<String, float[]> state() {
    Map<String, float[]> out = new java.util.TreeMap<>();
    velocity.forEach((k, v) -> out.put(k, v.toFloatArray()));
    return out;
  }

  /** Continues from {@link #state}; {@code shapes} gives each buffer's shape by parameter name. */
  public void restore(Map<String, float[]> state, java.util.function.Function<String, long[]> shapes) {
    velocity.values().forEach(NDArray::close);
    velocity.clear();
    state.forEach((k, v) -> {
      long[] shape = shapes.apply(k);
      velocity.put(k, HostArrays.of(manager, v, shape == null ? new Shape(v.length) : new Shape(shape)));
    });
  }

  @Override
  public void close() {
    velocity.clear();
    manager.close();
  }
}
