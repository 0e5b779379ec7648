package io.orthoslice.common.config;

import java.nio.file.Path;

/**
 * Where a run reads and writes and how often it reports; nothing here changes the trajectory.
 *
 * @param outputDir checkpoints, summary and metrics go here
 * @param evalEvery validation perplexity every this many steps (0: only at the end)
 * @param evalBatches validation batches per evaluation (fixed, in file order)
 * @param checkpointEvery checkpoint every this many steps (0: only at the end)
 * @param keepCheckpoints how many of the newest checkpoints to keep
 * @param resume continue from the newest checkpoint in outputDir
 * @param initFrom start from a Hugging Face Llama checkpoint directory (null: random init)
 * @param recomputeActivations activation checkpointing ({@link io.orthoslice.common.train.Trainer#recomputeActivations})
 */
public record RunOptions(
    Path outputDir,
    int evalEvery,
    int evalBatches,
    int checkpointEvery,
    int keepCheckpoints,
    int logEvery,
    boolean resume,
    Path initFrom,
    String device,
    boolean recomputeActivations) {

  /** Without activation checkpointing. */
  public RunOptions(Path outputDir, int evalEvery, int evalBatches, int checkpointEvery, int keepCheckpoints,
      int logEvery, boolean resume, Path initFrom, String device) {
    this(outputDir, evalEvery, evalBatches, checkpointEvery, keepCheckpoints, logEvery, resume, initFrom, device,
        false);
  }

  public RunOptions {
    if (outputDir == null) {
      throw new IllegalArgumentException("output directory is required");
    }
    nonNegative("eval-every", evalEvery);
    if (evalBatches < 1) {
      throw new IllegalArgumentException("eval-batches must be >= 1, got " + evalBatches);
    }
    nonNegative("checkpoint-every", checkpointEvery);
    if (keepCheckpoints < 1) {
      throw new IllegalArgumentException("keep-checkpoints must be >= 1, got " + keepCheckpoints);
    }
    if (logEvery < 1) {
      throw new IllegalArgumentException("log-every must be >= 1, got " + logEvery);
    }
    if (resume && initFrom != null) {
      throw new IllegalArgumentException("--resume and --init-from cannot be combined: a resumed run continues its own checkpoint");
    }
  }

  private static void nonNegative(String name, int v) {
    if (v < 0) {
      throw new IllegalArgumentException(name + " must be >= 0, got " + v);
    }
  }
}
