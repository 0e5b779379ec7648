package io.orthoslice.coordinator;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.train.ModelInit;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The shared weights of one version, host float32 by parameter name. Never modified once made, so any
 * number of FetchWeights streams read it without a lock. A merge makes the next version on its device
 * and hands over a snapshot whose host copy is made on first use ({@link #values}) or when the
 * coordinator asks for it after opening the next round ({@link #materialize}); the merger copies it
 * before it changes those device weights again, so every snapshot reads its own version. While the
 * device still holds a snapshot's version, {@link #onDevice} reads those arrays in place (the
 * validation pass), with no host copy.
 */
public final class WeightsSnapshot {

  /**
   * Reads the device arrays of {@code version} while the device still holds it: {@code f}'s result, or
   * empty when it holds another version now. The holder keeps the arrays unchanged while {@code f} runs.
   */
  @FunctionalInterface
  interface DeviceView {
    <T> java.util.Optional<T> read(WeightsSnapshot version, java.util.function.Function<Map<String, NDArray>, T> f);
  }

  private final long version;
  private final long parameters;
  private final DeviceView device;
  private Supplier<Map<String, float[]>> source;
  private volatile Map<String, float[]> values;

  /** A snapshot of host values held already. */
  public WeightsSnapshot(long version, Map<String, float[]> values) {
    this.version = version;
    this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    this.parameters = this.values.values().stream().mapToLong(v -> v.length).sum();
    this.device = null;
  }

  private WeightsSnapshot(long version, long parameters, Supplier<Map<String, float[]>> source, DeviceView device) {
    this.version = version;
    this.parameters = parameters;
    this.source = source;
    this.device = device;
  }

  /**
   * A snapshot of {@code parameters} values whose host copy {@code source} makes once, when first
   * needed, and whose device arrays {@code device} reads while the device holds them.
   */
  static WeightsSnapshot mirrored(long version, long parameters, Supplier<Map<String, float[]>> source,
      DeviceView device) {
    return new WeightsSnapshot(version, parameters, source, device);
  }

  /**
   * {@code f} of this version's arrays on the device that made it, read in place (they are not
   * changed while {@code f} runs); empty when the device holds another version now, or this
   * snapshot never was on a device.
   */
  public <T> java.util.Optional<T> onDevice(java.util.function.Function<Map<String, NDArray>, T> f) {
    return device == null ? java.util.Optional.empty() : device.read(this, f);
  }

  public long version() {
    return version;
  }

  /** The values by parameter name (made now if this is the first use of a mirrored snapshot). */
  public Map<String, float[]> values() {
    Map<String, float[]> v = values;
    return v != null ? v : materialize();
  }

  /** Makes the host copy if it is not made yet; returns it. */
  public synchronized Map<String, float[]> materialize() {
    if (values == null) {
      values = Collections.unmodifiableMap(new LinkedHashMap<>(source.get()));
      source = null;
    }
    return values;
  }

  /** Whether the host copy exists. */
  boolean materialized() {
    return values != null;
  }

  /** Values held. */
  public long parameters() {
    return parameters;
  }

  public long bytes() {
    return parameters * Float.BYTES;
  }

  /** The run's initial weights (ModelInit, float32) as version 0. */
  public static WeightsSnapshot initial(LlamaConfig model, long seed) {
    try (NDManager m = NDManager.newBaseManager()) {
      LinkedHashMap<String, float[]> w = new LinkedHashMap<>();
      for (Map.Entry<String, NDArray> e : ModelInit.initialize(model, seed, m, DataType.FLOAT32).entrySet()) {
        w.put(e.getKey(), e.getValue().toFloatArray());
      }
      return new WeightsSnapshot(0, w);
    }
  }
}
