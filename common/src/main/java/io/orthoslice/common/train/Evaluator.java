package io.orthoslice.common.train;

import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.model.Llama;
import io.orthoslice.common.model.PaddedMatrix;
import io.orthoslice.common.model.Weights;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** Mean next-token loss over fixed batches, each in its own scope; perplexity is exp of it. */
public final class Evaluator {

  private Evaluator() {}

  /**
   * @param weightsIn gives the weights view for a batch's scope
   * @param batches flat windows of seqLen+1 tokens, {@code batchSize} per batch
   */
  public static double meanLoss(Llama model, Function<NDManager, Weights> weightsIn, List<long[]> batches,
      int batchSize, DataType dtype, NDManager root) {
    if (batches.isEmpty()) {
      throw new IllegalArgumentException("evaluation needs at least one batch");
    }
    double sum = 0;
    for (long[] tokens : batches) {
      try (NDManager scope = root.newSubManager()) {
        NDArray batch = HostArrays.of(scope, tokens, new Shape(batchSize, tokens.length / batchSize));
        sum += model.evaluationLoss(weightsIn.apply(scope), batch.get(new NDIndex(":, :-1")),
            batch.get(new NDIndex(":, 1:")), dtype).getDouble();
      }
    }
    return sum / batches.size();
  }

  /** A view over plain full-rank weights (a loaded checkpoint). */
  public static Weights plain(Map<String, NDArray> weights, DataType dtype, NDManager scope) {
    return new Weights() {
      @Override
      public NDArray dense(String name) {
        NDArray w = weights.get(name);
        if (w.getDataType() == dtype) {
          return w;
        }
        NDArray cast = w.toType(dtype, true);
        cast.attach(scope);
        return cast;
      }

      @Override
      public NDArray linear(String name, NDArray x) {
        return x.matMul(dense(name).transpose());
      }

      @Override
      public NDArray linear(String name, NDArray x, PaddedMatrix shape) {
        NDArray padded = shape.pad(weights.get(name), dtype); // the padding rides on the cast
        padded.attach(scope);
        return x.matMul(padded.transpose());
      }
    };
  }
}
