package io.orthoslice.coordinator;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.model.Llama;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.tensor.HostArrays;
import io.orthoslice.common.train.Evaluator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Validation loss on fixed batches of a dataset's validation split (the same batches every time), in
 * the run's compute precision, as the standalone trainer evaluates. A version its device still holds
 * (every merged one until the next merge) is read there: {@link #prepare} casts it to the compute type
 * on the device (a copy; half the float32 weights under fp16), and the pass runs on that copy while the
 * next merge goes on. Others (the run's starting weights) are copied from the host.
 */
public final class DatasetValidation implements ValidationLoss {

  private final Llama model;
  private final List<long[]> batches;
  private final int batchSize;
  private final Device device;
  private final DataType compute;

  public DatasetValidation(LlamaConfig config, List<long[]> batches, int batchSize) {
    this(config, batches, batchSize, Device.cpu(), DataType.FLOAT32);
  }

  /**
   * @param device where the validation pass computes (the coordinator's --device, where its weights live)
   * @param compute the run's compute type (float32, or float16 under --dtype fp16)
   */
  public DatasetValidation(LlamaConfig config, List<long[]> batches, int batchSize, Device device, DataType compute) {
    this.device = device;
    this.compute = compute;
    this.model = new Llama(config);
    this.batches = List.copyOf(batches);
    this.batchSize = batchSize;
  }

  @Override
  public double of(WeightsSnapshot weights) {
    try (Pass p = prepare(weights)) {
      return p.loss();
    }
  }

  @Override
  public Pass prepare(WeightsSnapshot weights) {
    NDManager copies = NDManager.newBaseManager(device);
    try {
      Map<String, NDArray> w = weights.onDevice(held -> here(held) ? cast(held, copies) : null).orElse(null);
      if (w == null) {
        copies.close();
        return () -> fromHost(weights.values());
      }
      return new Pass() {
        @Override
        public double loss() {
          return DatasetValidation.this.loss(w);
        }

        @Override
        public void close() {
          copies.close();
        }
      };
    } catch (RuntimeException | Error e) {
      copies.close();
      throw e;
    }
  }

  /** The weights in the compute type, copied into {@code into}. */
  private Map<String, NDArray> cast(Map<String, NDArray> held, NDManager into) {
    Map<String, NDArray> out = new HashMap<>();
    held.forEach((name, a) -> {
      NDArray c = a.toType(compute, true);
      c.attach(into);
      out.put(name, c);
    });
    return out;
  }

  private boolean here(Map<String, NDArray> w) {
    return w.values().stream().allMatch(a -> a.getDevice().equals(device));
  }

  private double fromHost(Map<String, float[]> weights) {
    try (NDManager m = NDManager.newBaseManager(device)) {
      Map<String, NDArray> w = new HashMap<>();
      for (ParameterSpec p : model.config().parameters()) {
        w.put(p.name(), HostArrays.of(m, weights.get(p.name()), new Shape(p.shape())));
      }
      return loss(w);
    }
  }

  private double loss(Map<String, NDArray> w) {
    try (NDManager m = NDManager.newBaseManager(device)) {
      return Evaluator.meanLoss(model, scope -> Evaluator.plain(w, compute, scope), batches, batchSize, compute, m);
    }
  }
}
