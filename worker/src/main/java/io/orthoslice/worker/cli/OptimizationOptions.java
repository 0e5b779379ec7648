package io.orthoslice.worker.cli;

import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.config.Precision;
import io.orthoslice.common.config.TrainConfig;
import picocli.CommandLine.Option;

/** The options that determine a training trajectory; they become one {@link TrainConfig}. */
final class OptimizationOptions {

  @Option(names = "--steps", defaultValue = "200", description = "Optimizer steps. Default: ${DEFAULT-VALUE}.")
  long steps;

  @Option(names = "--warmup", defaultValue = "-1", paramLabel = "STEPS",
      description = "Linear warm-up steps (default: 10%% of --steps).")
  long warmup;

  @Option(names = "--seq-len", defaultValue = "256", description = "Tokens per sequence. Default: ${DEFAULT-VALUE}.")
  int seqLen;

  @Option(names = "--batch-size", defaultValue = "8", description = "Sequences per micro-batch. Default: ${DEFAULT-VALUE}.")
  int batchSize;

  @Option(names = "--grad-accum", defaultValue = "1", description = "Micro-batches per optimizer step. Default: ${DEFAULT-VALUE}.")
  int gradAccum;

  @Option(names = "--lr", defaultValue = "4e-4", description = "Peak learning rate. Default: ${DEFAULT-VALUE}.")
  double lr;

  @Option(names = "--min-lr", defaultValue = "1e-4", description = "Learning rate at the end of the cosine decay. Default: ${DEFAULT-VALUE}.")
  double minLr;

  @Option(names = "--beta1", defaultValue = "0.9", description = "Adam beta1. Default: ${DEFAULT-VALUE}.")
  double beta1;

  @Option(names = "--beta2", defaultValue = "0.95", description = "Adam beta2. Default: ${DEFAULT-VALUE}.")
  double beta2;

  @Option(names = "--eps", defaultValue = "1e-8", description = "Adam epsilon. Default: ${DEFAULT-VALUE}.")
  double eps;

  @Option(names = "--weight-decay", defaultValue = "0.1", description = "Decoupled weight decay on matrices. Default: ${DEFAULT-VALUE}.")
  double weightDecay;

  @Option(names = "--grad-clip", defaultValue = "1.0", description = "Global gradient-norm clip (0: off). Default: ${DEFAULT-VALUE}.")
  double gradClip;

  @Option(names = "--seed", defaultValue = "42", description = "Seed of every random draw (init, data order, projections). Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(names = "--dtype", defaultValue = "fp32",
      description = "fp32, fp64, or fp16 (fp16 compute, fp32 master weights, dynamic loss scaling; meant for GPUs). bf16 is not available in DJL 0.35.1. Default: ${DEFAULT-VALUE}.")
  String dtype;

  TrainConfig toConfig(MethodSpec method) {
    long w = warmup < 0 ? Math.max(1, steps / 10) : warmup;
    if (steps < 1) {
      throw new IllegalArgumentException("steps must be >= 1, got " + steps);
    }
    return new TrainConfig(seqLen, batchSize, gradAccum, steps, w, lr, minLr, beta1, beta2,
        eps, weightDecay, gradClip, seed, Precision.parse(dtype), method);
  }
}
