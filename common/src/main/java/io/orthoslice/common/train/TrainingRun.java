package io.orthoslice.common.train;

import io.orthoslice.common.method.MemoryUse;
import io.orthoslice.common.method.TrainingMethods;
import io.orthoslice.common.config.RunOptions;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.common.data.TokenWindows;
import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.orthoslice.common.checkpoint.Checkpoint;
import io.orthoslice.common.checkpoint.CheckpointStore;
import io.orthoslice.common.checkpoint.TrainerState;
import io.orthoslice.common.config.DeviceSpec;
import io.orthoslice.common.model.LlamaConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The standalone training run, top to bottom: build or resume the trainer, then for each step get
 * the batch at the data cursor, step, report, evaluate and checkpoint; finish with a validation
 * perplexity and a summary beside the checkpoints.
 */
public final class TrainingRun {

  private static final Logger LOG = LoggerFactory.getLogger(TrainingRun.class);

  /** What a finished run reports. */
  public record Summary(
      long steps,
      long tokens,
      double firstLoss,
      double lastLoss,
      double validationLoss,
      double validationPerplexity,
      double seconds,
      MemoryUse memory,
      Path checkpoint) {}

  private TrainingRun() {}

  public static Summary run(LlamaConfig model, TrainConfig cfg, RunOptions opts, TokenWindows data,
      int bosId, int eosId, ProgressReporter progress) {
    return run(model, cfg, opts, data, bosId, eosId, progress, s -> { });
  }

  /** As above, calling {@code listener} after every step (metrics, tests). */
  public static Summary run(LlamaConfig model, TrainConfig cfg, RunOptions opts, TokenWindows data,
      int bosId, int eosId, ProgressReporter progress, java.util.function.Consumer<Trainer.StepStats> listener) {
    Device device = DeviceSpec.parse(opts.device());
    CheckpointStore store = new CheckpointStore(opts.outputDir().resolve("checkpoints"), opts.keepCheckpoints());
    long windowsPerStep = (long) cfg.microBatch() * cfg.gradAccum();
    List<long[]> validation = data.validationBatches(opts.evalBatches(), cfg.microBatch());
    long start = System.nanoTime();
    try (Trainer trainer = open(model, cfg, opts, store, device, data).recomputeActivations(
        opts.recomputeActivations())) {
      MemoryUse mem = trainer.memory();
      progress.message(String.format(Locale.ROOT,
          "model %,d parameters; memory: weights %s, gradients %s, optimizer state %s, projections %s",
          model.parameterCount(), bytes(mem.weightBytes()), bytes(mem.gradientBytes()),
          bytes(mem.optimizerBytes()), bytes(mem.projectionBytes())));
      double[] losses = {Double.NaN, Double.NaN, Double.NaN}; // first, last, validation
      Path[] lastCheckpoint = {null};
      RunRecord.writeRunConfig(opts.outputDir(), model, cfg, data.datasetId());
      EvaluationLog evaluations = new EvaluationLog(opts.outputDir());
      // The whole run, from the step a resume restored; evaluation and checkpoints after their steps.
      TrainingLoop.run(trainer, data, trainer.step() * windowsPerStep, (int) windowsPerStep,
          Math.toIntExact(cfg.steps() - trainer.step()), (i, s, seconds) -> {
            if (Double.isNaN(losses[0])) {
              losses[0] = s.loss();
            }
            losses[1] = s.loss();
            progress.onStep(s);
            listener.accept(s);
            evaluations.step(s.loss(), seconds);
            boolean last = s.step() == cfg.steps();
            boolean evaluate = last || (opts.evalEvery() > 0 && s.step() % opts.evalEvery() == 0);
            double evalSeconds = 0;
            if (evaluate) {
              long t0 = System.nanoTime();
              losses[2] = trainer.evaluate(validation, cfg.microBatch());
              evalSeconds = (System.nanoTime() - t0) / 1e9;
              progress.message(String.format(Locale.ROOT, "step %d validation loss %.4f perplexity %.2f",
                  s.step(), losses[2], Math.exp(losses[2])));
            }
            if (last || (opts.checkpointEvery() > 0 && s.step() % opts.checkpointEvery() == 0)) {
              long t0 = System.nanoTime();
              lastCheckpoint[0] = save(trainer, store, windowsPerStep, data, bosId, eosId, opts.evalBatches());
              evaluations.checkpoint((System.nanoTime() - t0) / 1e9);
              progress.message("checkpoint " + lastCheckpoint[0]);
            }
            if (evaluate) {
              evaluations.evaluated(s.step(), s.step() * cfg.tokensPerStep(), losses[2], evalSeconds);
            }
          });
      double firstLoss = losses[0];
      double lastLoss = losses[1];
      double valLoss = losses[2];
      double seconds = (System.nanoTime() - start) / 1e9;
      Summary summary = new Summary(trainer.step(), trainer.step() * cfg.tokensPerStep(), firstLoss, lastLoss,
          valLoss, Math.exp(valLoss), seconds, trainer.memory(), lastCheckpoint[0]);
      RunRecord.writeSummary(opts.outputDir(), model, cfg, data.datasetId(), summary);
      return summary;
    }
  }

  private static Trainer open(LlamaConfig model, TrainConfig cfg, RunOptions opts, CheckpointStore store,
      Device device, TokenWindows data) {
    NDManager root = NDManager.newBaseManager(device);
    try {
      Optional<Path> latest = store.latest();
      if (opts.resume()) {
        Path dir = latest.orElseThrow(() -> new IllegalArgumentException(
            "--resume: no checkpoint in " + store.root() + "; start without --resume"));
        Checkpoint ckpt = store.load(dir, root, cfg.precision().master());
        RunRecord.requireSameRun(ckpt, model, cfg, data.datasetId());
        Trainer t = new Trainer(model, cfg, root, TrainingMethods.build(model, cfg, ckpt.weights(), root));
        TrainerState st = ckpt.trainerState();
        t.restore(ckpt.optimizerState(), st.step(), RunRecord.lossScale(st));
        LOG.info("resumed from {} at step {}", dir, st.step());
        return t;
      }
      if (latest.isPresent()) {
        throw new IllegalArgumentException("output directory " + opts.outputDir() + " already holds checkpoint "
            + latest.get().getFileName() + "; pass --resume to continue it or choose another --output");
      }
      Map<String, NDArray> weights;
      if (opts.initFrom() != null) {
        Checkpoint hf = store.load(opts.initFrom(), root, cfg.precision().master());
        if (!hf.config().equals(model)) {
          throw new IllegalArgumentException("--init-from " + opts.initFrom() + " has model shape " + hf.config()
              + ", which differs from the requested " + model);
        }
        weights = hf.weights();
      } else {
        weights = ModelInit.initialize(model, cfg.seed(), root, cfg.precision().master());
      }
      return new Trainer(model, cfg, root, TrainingMethods.build(model, cfg, weights, root));
    } catch (IOException e) {
      root.close();
      throw new UncheckedIOException(e);
    } catch (RuntimeException e) {
      root.close();
      throw e;
    }
  }

  private static Path save(Trainer trainer, CheckpointStore store, long windowsPerStep, TokenWindows data,
      int bosId, int eosId, int evalBatches) {
    try (NDManager scope = trainer.root().newSubManager()) {
      LinkedHashMap<String, NDArray> weights = trainer.effectiveWeights(scope);
      LinkedHashMap<String, NDArray> state = trainer.optimizerState(scope);
      TrainerState ts = RunRecord.trainerState(trainer, trainer.step() * windowsPerStep, data.datasetId(),
          evalBatches);
      return store.save(CheckpointStore.stepName(trainer.step()),
          new Checkpoint(trainer.modelConfig(), weights, state, ts, bosId, eosId));
    } catch (IOException e) {
      throw new UncheckedIOException("checkpoint failed: " + e.getMessage(), e);
    }
  }

  static String bytes(long b) {
    return b >= 1 << 30 ? String.format(Locale.ROOT, "%.2f GiB", b / (double) (1 << 30))
        : String.format(Locale.ROOT, "%.2f MiB", b / (double) (1 << 20));
  }
}
