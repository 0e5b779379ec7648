package io.orthoslice.common.method;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.model.PaddedMatrix;
import io.orthoslice.common.model.ParameterSpec;
import java.util.List;
import java.util.Map;

/**
 * How one model parameter is trained: what the forward pass sees, which arrays get gradients and
 * how the optimizer moves them. Full-rank AdamW, GaLore-style projected gradients, one-sided adapters,
 * LoRA and LDAdam are implementations; the training loop only talks to this interface.
 *
 * <p>Ownership: long-lived arrays (weights, factors, optimizer state) belong to the manager the
 * implementation was built with; everything made while a step runs belongs to the step's scope.
 */
public interface ParameterTrainer extends AutoCloseable {

  ParameterSpec spec();

  /** The parameter as a tensor in {@code dtype} (embeddings, norms, the output head). */
  NDArray dense(DataType dtype, NDManager scope);

  /** {@code x W_eff^T} for a matrix parameter; a factored rule overrides it to skip forming W_eff. */
  default NDArray linear(NDArray x, DataType dtype, NDManager scope) {
    return x.matMul(dense(dtype, scope).transpose());
  }

  /**
   * {@code x W_eff^T} with W_eff zero-padded to {@code shape} (see {@link
   * io.orthoslice.common.model.Weights#linear(String, NDArray, PaddedMatrix)}). This default pads around
   * the true product; a rule that forms W_eff pads it instead, so the GEMM itself runs aligned.
   */
  default NDArray linear(NDArray x, DataType dtype, NDManager scope, PaddedMatrix shape) {
    return shape.padOutput(linear(shape.trimInput(x), dtype, scope));
  }

  /** Called before the step's first forward pass (e.g. to request W's gradient for an SVD draw). */
  default void prepareStep(NDManager scope) {}

  /** Called after the step's last backward pass, before gradients are read for clipping. */
  default void afterBackward(NDManager scope) {}

  /** Current gradients of the trainable arrays, as handles owned by {@code scope}. */
  List<NDArray> gradients(NDManager scope);

  /**
   * Applies one optimizer step with learning rate {@code lr}, the gradients multiplied by {@code
   * gradScale} first (loss-scale undo times the clipping factor), then clears the gradients.
   */
  void update(double lr, double gradScale, NDManager scope);

  /** Clears gradients without stepping (a skipped step after an fp16 overflow). */
  void zeroGradients(NDManager scope);

  /**
   * Merge-and-redraw boundary for low-rank methods ({@code W <- W + B P^T}, new P); the dense
   * trainer does nothing.
   */
  default void redraw(long round, NDManager scope) {}

  /**
   * Starts a distributed round from the shared weights {@code w} (this parameter's shape; owned by
   * the caller): W_eff becomes w and the optimizer state stays. A projected method zeroes its factor
   * and, when {@code redraw >= 0}, takes new projectors from its source as re-draw {@code redraw}
   * (its state policy then resets, carries or transports the factor's moments).
   */
  default void rebase(NDArray w, long redraw, NDManager scope) {
    throw new UnsupportedOperationException(spec().name() + " is trained by " + getClass().getSimpleName()
        + ", which a distributed round does not continue across rounds");
  }

  /** The effective weight W_eff, a new array owned by {@code scope}, in float32/float64. */
  NDArray effectiveWeight(NDManager scope);

  /** Everything besides W_eff that an exact resume needs, by name suffix (e.g. "exp_avg"). */
  Map<String, NDArray> state();

  /** Optimizer steps taken so far (Adam's t), saved beside {@link #state()}. */
  long optimizerStep();

  /** Restores what {@link #state()} and {@link #optimizerStep()} returned (arrays are copied). */
  void loadState(Map<String, NDArray> state, long optimizerStep);

  /** Live bytes by kind (weights, gradients, optimizer state, persisted projection). */
  MemoryUse memory();

  @Override
  void close();
}
