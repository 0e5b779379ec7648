package io.orthoslice.common.method;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * DJL puts the result of an operation in the manager of the array it was called on. Long-lived
 * arrays (weights, optimizer state) used in a step are therefore temp-attached to the step's scope
 * first, so every intermediate lands in the scope and is freed with it; the borrowed arrays go back
 * to their owner when the scope closes.
 */
final class StepScope {

  private StepScope() {}

  static void borrow(NDManager scope, NDArray... arrays) {
    for (NDArray a : arrays) {
      // Borrowing twice into the same scope would record the scope itself as the owner to return to.
      if (a.getManager() != scope) {
        scope.tempAttachAll(a);
      }
    }
  }
}
