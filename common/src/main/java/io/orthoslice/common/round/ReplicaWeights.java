package io.orthoslice.common.round;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.tensor.HostArrays;
import io.orthoslice.common.wire.DeltaUpdate;
import io.orthoslice.common.wire.WireTensor;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A worker's copy of the run's shared weights, float32 on the device it trains on, kept there from
 * round to round: only what travels crosses to the device (the fetched weights once, then each round's
 * encoded change, one parameter at a time), and the round update is applied where the weights live.
 * Applying is one float32 addition per value, as {@link DeltaBroadcast#apply} does on the coordinator's
 * host, so the replica holds the coordinator's bits on any device; the update's checksum, computed on
 * the device when the native kernels are loaded, confirms it.
 */
public final class ReplicaWeights implements AutoCloseable {

  private final LlamaConfig model;
  private final NDManager manager;
  private final LinkedHashMap<String, NDArray> weights = new LinkedHashMap<>();
  private volatile long version = -1; // a worker's background thread may apply an update

  public ReplicaWeights(LlamaConfig model, Device device) {
    this.model = model;
    this.manager = NDManager.newBaseManager(device);
  }

  /** The version held, or -1 when none is (before the first fetch, or after a failed update). */
  public long version() {
    return version;
  }

  /** Forgets the version held (the next round fetches the weights). */
  public void invalidate() {
    version = -1;
  }

  /** The weights by parameter name, owned by this replica (read them; never close or change them). */
  public Map<String, NDArray> arrays() {
    return Collections.unmodifiableMap(weights);
  }

  /** Replaces the weights with fetched ones ({@code <param>} float tensors) of {@code version}. */
  public void load(long version, Map<String, WireTensor> tensors) {
    this.version = -1;
    for (ParameterSpec p : model.parameters()) {
      WireTensor t = tensors.get(p.name());
      if (t == null) {
        throw new IllegalArgumentException("the fetched weights lack " + p.name());
      }
      float[] v = t.toFloats();
      if (v.length != p.numel()) {
        throw new IllegalArgumentException("the fetched " + p.name() + " has " + v.length + " values, expected "
            + p.numel());
      }
      NDArray a = HostArrays.of(manager, v, new Shape(p.shape()));
      NDArray old = weights.put(p.name(), a);
      if (old != null) {
        old.close();
      }
    }
    this.version = version;
  }

  /**
   * Adds round update {@code u} (from the version held) in place.
   *
   * @return whether the result has the coordinator's checksum; when not, nothing is held any more
   *     ({@link #version} is -1) and the caller fetches the weights
   * @throws IllegalArgumentException when the update is not from the version held, or lacks a change
   */
  public boolean apply(DeltaUpdate u) {
    if (version < 0 || u.fromVersion() != version) {
      throw new IllegalArgumentException("the round update is from version " + u.fromVersion()
          + ", this replica holds " + (version < 0 ? "none" : "version " + version));
    }
    version = -1; // half-applied until the checksum says otherwise
    for (ParameterSpec p : model.parameters()) {
      try (NDManager scope = manager.newSubManager()) {
        weights.get(p.name()).addi(change(u.tensors(), p, scope));
      }
    }
    if (checksum() != u.weightsChecksum()) {
      return false;
    }
    version = u.toVersion();
    return true;
  }

  /** {@link WeightsChecksum} of the weights held, on their device. */
  public long checksum() {
    return WeightsChecksum.ofArrays(model, weights);
  }

  /**
   * One parameter's change as a float32 array on the replica's device ({@link DeviceWire#decode}: dense
   * encodings travel to the device as they came and are decoded there, so no host array of the change
   * is made; a sparse change is decoded on the host).
   */
  private static NDArray change(Map<String, WireTensor> tensors, ParameterSpec p, NDManager scope) {
    try {
      return DeviceWire.decode(tensors, p.name(), p.shape(), scope);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("the round update lacks a change of " + p.name() + " with " + p.numel()
          + " values");
    }
  }

  @Override
  public void close() {
    weights.clear();
    manager.close();
  }
}
