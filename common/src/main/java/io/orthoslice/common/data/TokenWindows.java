package io.orthoslice.common.data;

import java.util.List;

/**
 * The data a run trains on, as windows of seqLen+1 tokens. Training windows are addressed by a
 * global position in the run's shuffled order, so the data cursor is one number and any range of
 * positions can be handed to any worker.
 */
public interface TokenWindows {

  /** Windows [position, position + count) of the training order, flat and row-major. */
  long[] trainBatch(long position, int count);

  /** The first {@code batches} validation batches of {@code batchSize} windows, in file order. */
  List<long[]> validationBatches(int batches, int batchSize);

  /** Number of distinct training windows (one epoch). */
  long trainWindows();

  /** Identity of the dataset (manifest digest) recorded in checkpoints. */
  String datasetId();
}
