package io.orthoslice.worker.cli;

import io.orthoslice.common.data.TokenDataset;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.data.DatasetWindows;
import io.orthoslice.common.train.ProgressReporter;
import io.orthoslice.common.config.RunOptions;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.common.train.TrainingRun;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code orthoslice train}: a single-process training run. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
      "Train a Llama model in this process and print the validation perplexity.",
      "Checkpoints (Hugging Face config.json + model.safetensors, optimizer and trainer state) go to"
          + " <output>/checkpoints/step-NNNNNNNN."
    })
final class TrainCommand implements Callable<Integer> {

  @Mixin ModelOptions model;
  @Mixin DataOptions data;
  @Mixin OptimizationOptions optim;
  @Mixin MethodOptions method;

  @Option(names = "--output", defaultValue = "runs/train", paramLabel = "DIR",
      description = "Run directory for checkpoints and summary. Default: ${DEFAULT-VALUE}.")
  Path output;

  @Option(names = "--resume", description = "Continue from the newest checkpoint in --output, exactly.")
  boolean resume;

  @Option(names = "--init-from", paramLabel = "DIR",
      description = "Start from a Hugging Face Llama checkpoint (config.json + model.safetensors).")
  Path initFrom;

  @Option(names = "--eval-every", defaultValue = "50", description = "Validation every N steps (0: at the end only). Default: ${DEFAULT-VALUE}.")
  int evalEvery;

  @Option(names = "--eval-batches", defaultValue = "8", description = "Validation batches per evaluation. Default: ${DEFAULT-VALUE}.")
  int evalBatches;

  @Option(names = "--checkpoint-every", defaultValue = "0", description = "Checkpoint every N steps (0: at the end only). Default: ${DEFAULT-VALUE}.")
  int checkpointEvery;

  @Option(names = "--keep-checkpoints", defaultValue = "3", description = "Newest checkpoints kept. Default: ${DEFAULT-VALUE}.")
  int keepCheckpoints;

  @Option(names = "--log-every", defaultValue = "10", description = "Log line every N steps when not on a terminal. Default: ${DEFAULT-VALUE}.")
  int logEvery;

  @Mixin DeviceOptions where;

  @Option(names = "--recompute-activations", description = "Activation checkpointing: keep only each block's input"
      + " and recompute the block in backward (about a third more compute, a fraction of the activation memory).")
  boolean recompute;

  @Override
  public Integer call() {
    String device = where.apply();
    TrainConfig cfg = optim.toConfig(method.toSpec());
    RunOptions opts = new RunOptions(output, evalEvery, evalBatches, checkpointEvery, keepCheckpoints, logEvery,
        resume, initFrom, device, recompute);
    try (TokenDataset ds = data.open()) {
      LlamaConfig shape = model.resolve(ds.manifest().vocabSize(), cfg.seqLen());
      DatasetWindows windows = new DatasetWindows(ds, cfg.seqLen(), cfg.seed());
      TrainingRun.Summary s;
      try (ProgressReporter progress = new ProgressReporter(cfg.steps(), cfg.tokensPerStep(), logEvery,
          ProgressReporter.stdoutIsTerminal(), System.out)) {
        s = TrainingRun.run(shape, cfg, opts, windows, ds.manifest().bosId(), ds.manifest().eosId(), progress);
      }
      System.out.printf(Locale.ROOT,
          "done: %d steps, %,d tokens in %.1f s; train loss %.4f -> %.4f; validation loss %.4f, perplexity %.2f%n"
              + "checkpoint: %s%n",
          s.steps(), s.tokens(), s.seconds(), s.firstLoss(), s.lastLoss(), s.validationLoss(),
          s.validationPerplexity(), s.checkpoint());
      return 0;
    }
  }
}
