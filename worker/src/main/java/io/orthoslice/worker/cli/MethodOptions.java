package io.orthoslice.worker.cli;

import io.orthoslice.common.config.MethodSpec;
import picocli.CommandLine.Option;

/** Training-method flags; they become one {@link MethodSpec}, which validates combinations. */
final class MethodOptions {

  @Option(names = "--method", defaultValue = "full",
      description = "full | galore (projected gradients) | adapter (one-sided W + B P^T) | lora | relora. Default: ${DEFAULT-VALUE}.")
  String method;

  @Option(names = "--projection", defaultValue = "orthogonal",
      description = "svd | gaussian | rademacher | orthogonal | two-sided. Default: ${DEFAULT-VALUE}.")
  String projection;

  @Option(names = "--rank", defaultValue = "0", description = "Rank r of the low-rank methods.")
  int rank;

  @Option(names = "--merge-every", defaultValue = "200",
      description = "Merge the adapter and re-draw the projection every T steps. Default: ${DEFAULT-VALUE}.")
  int mergeEvery;

  @Option(names = "--state-on-redraw", defaultValue = "carry",
      description = "Optimizer state when the projection changes: reset (ReLoRA) | carry (GaLore's code) | transport (LDAdam's rule). Default: ${DEFAULT-VALUE}.")
  String statePolicy;

  @Option(names = "--optimizer", defaultValue = "adamw", description = "adamw | ldadam. Default: ${DEFAULT-VALUE}.")
  String optimizer;

  @Option(names = "--base", defaultValue = "fp32",
      description = "Storage of the frozen base under adapters: fp32 | int8 | nf4 (bf16 is not available in DJL 0.35.1). Default: ${DEFAULT-VALUE}.")
  String base;

  @Option(names = "--scale", defaultValue = "1.0", description = "Scale alpha of the projected update. Default: ${DEFAULT-VALUE}.")
  double scale;

  MethodSpec toSpec() {
    return new MethodSpec(
        MethodSpec.parseEnum(MethodSpec.Method.class, "method", method),
        projection,
        rank,
        mergeEvery,
        MethodSpec.parseEnum(MethodSpec.StatePolicy.class, "state-on-redraw", statePolicy),
        MethodSpec.parseEnum(MethodSpec.Optimizer.class, "optimizer", optimizer),
        base,
        scale);
  }
}
