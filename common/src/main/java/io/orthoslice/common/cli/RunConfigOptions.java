package io.orthoslice.common.cli;

import io.orthoslice.common.config.RunConfig;
import java.lang.reflect.Field;
import java.lang.reflect.RecordComponent;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;

/**
 * The options of a distributed run, one per {@link RunConfig} component, shared by {@code
 * coordinator} and {@code launch} (a picocli mixin). Each field is named as its component and its
 * option is the component's name in kebab case; the defaults are not written here but read from
 * {@link RunConfig#DEFAULTS} by {@link RunConfigDefaults}, which a command names as its
 * {@code defaultValueProvider}. {@code RunConfigOptionsTest} checks that every component has its
 * option.
 */
public final class RunConfigOptions {

  @Spec(Spec.Target.MIXEE)
  CommandSpec mixee;

  @Option(names = "--preset", description = "Model preset: tiny, 20m, 60m, 130m, 350m, 1b (vocabulary from the data). Default: ${DEFAULT-VALUE}.")
  String preset;
  @Option(names = "--data", paramLabel = "DIR", description = "Prepared dataset (default: the embedded Europarl sample).")
  String data;
  @Option(names = "--tokenizer", description = "Tokenizer of the embedded sample: byte, gpt2, cl100k or a tokenizer.json. Default: ${DEFAULT-VALUE}.")
  String tokenizer;
  @Option(names = "--seq-len", description = "Tokens per sequence. Default: ${DEFAULT-VALUE}.")
  int seqLen;
  @Option(names = "--batch-size", description = "Sequences per local step and worker. Default: ${DEFAULT-VALUE}.")
  int batchSize;
  @Option(names = "--mode", description = "orthogonal | orthogonal_dct | independent | same | full. Default: ${DEFAULT-VALUE}.")
  String mode;
  @Option(names = "--workers", description = "Workers the first round waits for. Default: ${DEFAULT-VALUE}.")
  int workers;
  @Option(names = "--min-workers", description = "Fewest live workers a later round opens with (0: --workers). Default: ${DEFAULT-VALUE}.")
  int minWorkers;
  @Option(names = "--spare-workers", description = "Members admitted beyond --workers, who step in for a lost"
      + " worker; more Joins are refused. Default: ${DEFAULT-VALUE}.")
  int spareWorkers;
  @Option(names = "--rounds", description = "Rounds. Default: ${DEFAULT-VALUE}.")
  int rounds;
  @Option(names = "--local-steps", description = "Local steps H per round. Default: ${DEFAULT-VALUE}.")
  int localSteps;
  @Option(names = "--rank", description = "Rank r of each worker's slice (unused in mode full). Default: ${DEFAULT-VALUE}.")
  int rank;
  @Option(names = "--scale", description = "Adapter scale alpha of W + alpha B P^T. Default: ${DEFAULT-VALUE}.")
  double scale;
  @Option(names = "--merge", description = "How the factor updates of a projected matrix combine: mean | sum | mean*F | sum*F | auto (sum for orthogonal and orthogonal_dct, mean for independent and same). mean is the measured best with several local steps (docs/RESULTS.md). Default: ${DEFAULT-VALUE}.")
  String merge;
  @Option(names = "--slice-rounds", description = "Re-draw the projections every R rounds. Default: ${DEFAULT-VALUE}.")
  int sliceRounds;
  @Option(names = "--inner-state", description = "Workers' optimizer state between rounds: reset (fresh every round) | keep (kept; a re-drawn slice's moments reset) | transport (kept; moved by LDAdam's rule). Default: ${DEFAULT-VALUE}.")
  String innerState;
  @Option(names = "--wire", description = "How updates and the broadcast travel: f32 (exact) | f16 | int8 (per-row scales; changes only, with error feedback on both sides). Default: ${DEFAULT-VALUE}.")
  String wire;
  @Option(names = "--wire-density", description = "On a lossy wire, the fraction of every change's entries sent (the largest); the rest waits in the error feedback. 1: all. Default: ${DEFAULT-VALUE}.")
  double wireDensity;
  @Option(names = "--round-warmup", paramLabel = "W", description = "Ramp the learning rate up again over the first W local steps of every round (0: none; at most --local-steps). Default: ${DEFAULT-VALUE}.")
  int roundWarmup;
  @Option(names = "--overlap", arity = "0..1", description = "Workers train round r+1 while round r's updates travel and merge,"
      + " and add the merged change one round late (Streaming DiLoCo's one-step delay): the round costs training, not the"
      + " network or the merge. Default: ${DEFAULT-VALUE}.")
  boolean overlap;
  @Option(names = "--outer-lr", description = "DiLoCo outer learning rate on the merged change (1: the plain merge). Default: ${DEFAULT-VALUE}.")
  double outerLr;
  @Option(names = "--outer-momentum", description = "DiLoCo outer Nesterov momentum (0: off). Default: ${DEFAULT-VALUE}.")
  double outerMomentum;
  @Option(names = "--lr", description = "Peak learning rate (linear warm-up, then cosine decay to --min-lr). Default: ${DEFAULT-VALUE}.")
  double lr;
  @Option(names = "--min-lr", description = "Final learning rate (default: lr / 10).")
  Double minLr;
  @Option(names = "--warmup", description = "Warm-up steps (default: 10%% of rounds x local steps).")
  Long warmup;
  @Option(names = "--weight-decay", description = "AdamW decoupled weight decay on matrices. Default: ${DEFAULT-VALUE}.")
  double weightDecay;
  @Option(names = "--grad-clip", description = "Global gradient-norm clip (0: off). Default: ${DEFAULT-VALUE}.")
  double gradClip;
  @Option(names = "--beta1", description = "AdamW beta1. Default: ${DEFAULT-VALUE}.")
  double beta1;
  @Option(names = "--beta2", description = "AdamW beta2. Default: ${DEFAULT-VALUE}.")
  double beta2;
  @Option(names = "--eps", description = "AdamW epsilon. Default: ${DEFAULT-VALUE}.")
  double eps;
  @Option(names = "--seed", description = "Run seed: every random draw derives from it. Default: ${DEFAULT-VALUE}.")
  long seed;
  @Option(names = "--dtype", description = "The workers' precision: fp32 | fp16 (fp16 compute, fp32 master weights, dynamic loss scaling; GPU) | fp64. Default: ${DEFAULT-VALUE}.")
  String dtype;
  @Option(names = "--eval-batches", description = "Validation batches per evaluation. Default: ${DEFAULT-VALUE}.")
  int evalBatches;
  @Option(names = "--eval-every", description = "Validate every E rounds and after the last. Default: ${DEFAULT-VALUE}.")
  int evalEvery;
  @Option(names = "--checkpoint-every", description = "Checkpoint every C rounds, written in the background"
      + " (0: at the end only). Default: ${DEFAULT-VALUE}.")
  int checkpointEvery;
  @Option(names = "--keep-checkpoints", description = "Checkpoints kept, newest first. Default: ${DEFAULT-VALUE}.")
  int keepCheckpoints;
  @Option(names = "--round-timeout", description = "Round deadline in seconds. Default: ${DEFAULT-VALUE}.")
  double roundTimeout;
  @Option(names = "--round-quorum", paramLabel = "Q", description = "Stragglers: once Q updates of a round are in, wait only --round-grace more seconds for the rest, then merge (a later update is refused as late and counted); 0: wait for every live worker. Default: ${DEFAULT-VALUE}.")
  int roundQuorum;
  @Option(names = "--round-grace", paramLabel = "SECONDS", description = "With --round-quorum, how long a round waits for its other updates. Default: ${DEFAULT-VALUE}.")
  double roundGrace;
  @Option(names = "--heartbeat-timeout", description = "Seconds of silence before a worker is dropped. Default: ${DEFAULT-VALUE}.")
  double heartbeatTimeout;
  @Option(names = "--max-update-value", description = "Largest |value| an update may hold; more, or a non-finite value, refuses the update. Default: ${DEFAULT-VALUE}.")
  double maxUpdateValue;
  @Option(names = "--update-outlier-factor", description = "With 3 or more updates in a round, leave out one whose change of any tensor exceeds F x the round's median (0: off). Default: ${DEFAULT-VALUE}.")
  double updateOutlierFactor;

  /** The run the command line gives: every default, replaced by the options given. */
  public RunConfig toConfig() {
    return toConfig(RunConfig.DEFAULTS);
  }

  /**
   * {@code base} (a {@code run.json}, say) with the settings given on the command line replaced; a
   * setting not given keeps {@code base}'s value.
   */
  public RunConfig toConfig(RunConfig base) {
    ParseResult parsed = mixee.commandLine().getParseResult();
    List<RecordComponent> components = RunConfig.components();
    Object[] values = new Object[components.size()];
    try {
      for (int i = 0; i < values.length; i++) {
        RecordComponent c = components.get(i);
        values[i] = parsed != null && parsed.hasMatchedOption(RunConfigDefaults.optionName(c.getName()))
            ? field(c.getName()).get(this) : c.getAccessor().invoke(base);
      }
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("RunConfigOptions lacks a field for a RunConfig component: " + e, e);
    }
    return RunConfig.of(values);
  }

  static Field field(String component) throws NoSuchFieldException {
    return RunConfigOptions.class.getDeclaredField(component);
  }
}
