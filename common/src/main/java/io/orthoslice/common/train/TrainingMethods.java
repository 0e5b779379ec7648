package io.orthoslice.common.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.optim.AdamW;
import java.util.LinkedHashMap;
import java.util.Map;

/** Builds the per-parameter training rules for a run's method from its initial weights. */
public final class TrainingMethods {

  private TrainingMethods() {}

  /**
   * @param weights initial weights by HF name, owned by {@code root}; ownership passes to the
   *     returned trainers
   */
  public static LinkedHashMap<String, ParameterTrainer> build(
      LlamaConfig model, TrainConfig config, Map<String, NDArray> weights, NDManager root) {
    AdamW adam = new AdamW(new AdamW.Hyper(config.beta1(), config.beta2(), config.eps()));
    LinkedHashMap<String, ParameterTrainer> out = new LinkedHashMap<>();
    for (ParameterSpec spec : model.parameters()) {
      NDArray w = weights.get(spec.name());
      if (w == null) {
        throw new IllegalArgumentException("initial weights lack parameter " + spec.name());
      }
      // Decoupled weight decay on matrices only (embedding, projections, head), never on norm gains.
      double wd = spec.isMatrix() ? config.weightDecay() : 0.0;
      out.put(spec.name(), new DenseParameter(spec, w, adam, wd, root));
    }
    return out;
  }
}
