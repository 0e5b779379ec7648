package io.orthoslice.coordinator;

import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.model.Llama;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.train.Evaluator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Validation loss on fixed batches of a dataset's validation split (the same batches every time). */
public final class DatasetValidation implements ValidationLoss {

  private final Llama model;
  private final List<long[]> batches;
  private final int batchSize;
  private final ai.djl.Device device;

  public DatasetValidation(LlamaConfig config, List<long[]> batches, int batchSize) {
    this(config, batches, batchSize, ai.djl.Device.cpu());
  }

  /** @param device where the validation pass computes */
  public DatasetValidation(LlamaConfig config, List<long[]> batches, int batchSize, ai.djl.Device device) {
    this.device = device;
    this.model = new Llama(config);
    this.batches = List.copyOf(batches);
    this.batchSize = batchSize;
  }

  @Override
  public double of(Map<String, float[]> weights) {
    try (NDManager m = NDManager.newBaseManager(device)) {
      Map<String, NDArray> w = new HashMap<>();
      for (ParameterSpec p : model.config().parameters()) {
        w.put(p.name(), HostArrays.of(m, weights.get(p.name()), new Shape(p.shape())));
      }
      return Evaluator.meanLoss(model, scope -> Evaluator.plain(w, DataType.FLOAT32, scope), batches, batchSize,
          DataType.FLOAT32, m);
    }
  }
}
