package io.orthoslice.common.config;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import io.orthoslice.common.model.LlamaConfig;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every setting of a distributed run, each declared once here with its default ({@link #DEFAULTS})
 * and its range check (the compact constructor). Everything else derives from this record: the
 * options of {@code coordinator}, {@code launch} and {@code sweep} (one option per component,
 * {@code --kebab-case}, defaults read from {@link #DEFAULTS}), the {@code run.json} that launch and
 * sweep hand their coordinators, the run spec workers receive, the checkpoint's run record and
 * {@code summary.json} (all {@code snake_case} dumps of it).
 *
 * <p>Adding a setting is one component here (with its default in {@link #DEFAULTS} and its check),
 * one option in {@code RunConfigOptions}, and the code that uses it.
 *
 * <p>Choices given as words are held in their canonical label ({@code mode "orthogonal"}, {@code
 * merge "mean"}); {@code merge "auto"} resolves to the mode's rule by construction. Two settings
 * derive from others when left null: {@code minLr} (lr / 10) and {@code warmup} (10% of all local
 * steps, at least 1).
 *
 * @param preset model shape (see {@link LlamaConfig#preset}); the vocabulary is the dataset's
 * @param data a dataset made by prepare-data, or null for the embedded Europarl sample
 * @param tokenizer the tokenizer of the embedded sample (ignored with {@code data})
 * @param mode orthogonal | orthogonal_dct | independent | same | full
 * @param workers workers the first round waits for
 * @param minWorkers fewest live workers a later round opens with (0: {@code workers})
 * @param spareWorkers members admitted beyond {@code workers}: they wait and step into a round when a
 *     worker is lost; a Join beyond {@code workers + spareWorkers} live members is refused
 * @param localSteps local steps H of every round
 * @param rank r of every worker's slice (unused in mode full)
 * @param scale the adapter scale alpha of W + alpha B P^T
 * @param merge how the factor updates of a projected matrix combine (see {@link MergeRule})
 * @param sliceRounds projections are re-drawn every this many rounds
 * @param innerState workers' optimizer state between rounds (see {@link InnerState})
 * @param wire how updates and the broadcast travel (see {@link WirePrecision})
 * @param wireDensity on a lossy wire, the fraction of every change's entries sent
 * @param roundWarmup local steps over which every round ramps its learning rate up again
 * @param overlap workers train round r + 1 while round r's updates travel and merge (from the weights
 *     before that merge plus their own change of round r), and apply the merged change one round late
 *     (the one-step delay of Streaming DiLoCo); dense parameters then travel as changes on every wire
 * @param outerLr outer learning rate on the merged change (DiLoCo); 1 is the plain merge
 * @param outerMomentum outer Nesterov momentum; 0 is off
 * @param dtype the workers' precision: fp32, fp16 (fp16 compute, fp32 master weights, dynamic loss
 *     scaling) or fp64
 * @param evalEvery validate every E rounds and after the last
 * @param checkpointEvery checkpoint every C rounds (0: at the end only); every round by default, written in
 *     the background (BackgroundCheckpointer), so a coordinator crash loses at most the rounds since
 * @param keepCheckpoints how many of the newest checkpoints the coordinator keeps (older ones are deleted)
 * @param roundTimeout seconds from a round's opening to its deadline
 * @param roundQuorum stragglers: once this many of a round's updates are in, the round waits only
 *     {@code roundGrace} more seconds for the rest, then merges what it has (0: it waits for every
 *     live participant); a later update is refused as late and counted
 * @param roundGrace seconds a round with its quorum waits for the rest of its updates
 * @param heartbeatTimeout seconds of silence before a worker is dropped
 * @param maxUpdateValue largest |value| an update may hold: 1e4 is orders of magnitude above any weight or
 *     factor a healthy fp32 run holds (they are O(1) or smaller) and far below where fp32 sums overflow
 * @param updateOutlierFactor with 3 or more updates, leave out one whose change exceeds F x the
 *     round's median (0: off); 10 leaves room for honest workers whose data differs
 *
 * <p>Over 300 lines by design: one component, default and range check for each of the run's settings, and
 * nothing else.
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record RunConfig(
    String preset,
    String data,
    String tokenizer,
    int seqLen,
    int batchSize,
    String mode,
    int workers,
    int minWorkers,
    int spareWorkers,
    int rounds,
    int localSteps,
    int rank,
    double scale,
    String merge,
    int sliceRounds,
    String innerState,
    String wire,
    double wireDensity,
    int roundWarmup,
    boolean overlap,
    double outerLr,
    double outerMomentum,
    double lr,
    Double minLr,
    Long warmup,
    double weightDecay,
    double gradClip,
    double beta1,
    double beta2,
    double eps,
    long seed,
    String dtype,
    int evalBatches,
    int evalEvery,
    int checkpointEvery,
    int keepCheckpoints,
    double roundTimeout,
    int roundQuorum,
    double roundGrace,
    double heartbeatTimeout,
    double maxUpdateValue,
    double updateOutlierFactor) {

  /** The defaults of every setting; {@code launch} with no options runs exactly this. */
  public static final RunConfig DEFAULTS = new RunConfig(
      "tiny", null, "byte", 64, 8,
      "orthogonal", 3, 0, 2, 4, 15, 8, 1.0,
      "mean", 1, "reset", "f32", 1.0, 0, false, 1.0, 0.0,
      2e-3, null, null, 0.0, 1.0, 0.9, 0.95, 1e-8, 42, "fp32",
      4, 1, 1, 3, 300, 0, 0.0, 30, 1e4, 10);

  /**
   * Settings a resumed run or a rejoining worker may change: they decide when things happen and what
   * is refused, not the trajectory of the weights. Every other setting is part of {@link #trajectory}.
   */
  public static final Set<String> OPERATIONAL = Set.of("workers", "min_workers", "spare_workers", "eval_batches",
      "eval_every",
      "checkpoint_every", "keep_checkpoints", "round_timeout", "round_quorum", "round_grace", "heartbeat_timeout",
      "max_update_value",
      "update_outlier_factor",
      // the dataset is checked by its identity (the manifest's digest), not by its path
      "data", "tokenizer");

  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT)
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

  public RunConfig {
    if (preset == null || tokenizer == null || mode == null || merge == null || innerState == null || wire == null
        || dtype == null) {
      throw new IllegalArgumentException("preset, tokenizer, mode, merge, inner-state, wire and dtype are required");
    }
    LlamaConfig.preset(preset); // names the presets it allows
    positive("seq-len", seqLen);
    positive("batch-size", batchSize);
    positive("workers", workers);
    if (minWorkers < 0 || minWorkers > workers) {
      throw new IllegalArgumentException("--min-workers must be in [0, --workers " + workers + "] (0: --workers), got "
          + minWorkers);
    }
    if (spareWorkers < 0) {
      throw new IllegalArgumentException("--spare-workers must be >= 0, got " + spareWorkers);
    }
    positive("rounds", rounds);
    positive("local-steps", localSteps);
    RoundMode m = RoundMode.parse(mode);
    mode = m.label();
    if (m.projected() && rank < 1) {
      throw new IllegalArgumentException("--rank must be >= 1 in mode " + mode + ", got " + rank);
    }
    if (!(scale > 0)) {
      throw new IllegalArgumentException("--scale must be > 0, got " + scale);
    }
    merge = ("auto".equalsIgnoreCase(merge) ? MergeRule.byConstruction(m) : MergeRule.parse(merge)).label();
    innerState = InnerState.parse(innerState).label();
    wire = WirePrecision.parse(wire).label();
    new RoundRules(MergeRule.parse(merge), sliceRounds, InnerState.parse(innerState), WirePrecision.parse(wire),
        wireDensity, roundWarmup, overlap); // the rules' own checks
    RoundRules.requireRoundWarmup(roundWarmup, localSteps);
    if (!(outerLr > 0)) {
      throw new IllegalArgumentException("--outer-lr must be > 0, got " + outerLr);
    }
    if (!(outerMomentum >= 0 && outerMomentum < 1)) {
      throw new IllegalArgumentException("--outer-momentum must be in [0, 1), got " + outerMomentum);
    }
    dtype = Precision.parse(dtype).toString();
    long steps = (long) rounds * localSteps;
    new LearningRateSchedule(lr, minLr == null ? lr / 10 : minLr, warmup == null ? defaultWarmup(steps) : warmup,
        steps);
    if (warmup != null && (warmup < 0 || warmup > steps)) {
      throw new IllegalArgumentException("--warmup must be in [0, rounds x local-steps = " + steps + "], got " + warmup);
    }
    if (!(weightDecay >= 0)) {
      throw new IllegalArgumentException("--weight-decay must be >= 0, got " + weightDecay);
    }
    if (!(gradClip >= 0)) {
      throw new IllegalArgumentException("--grad-clip must be >= 0 (0 disables clipping), got " + gradClip);
    }
    new AdamHyper(beta1, beta2, eps);
    positive("eval-batches", evalBatches);
    positive("eval-every", evalEvery);
    if (checkpointEvery < 0) {
      throw new IllegalArgumentException("--checkpoint-every must be >= 0 (0: at the end only), got "
          + checkpointEvery);
    }
    positive("keep-checkpoints", keepCheckpoints);
    if (!(roundTimeout > 0)) {
      throw new IllegalArgumentException("--round-timeout must be > 0 seconds, got " + roundTimeout);
    }
    if (roundQuorum < 0 || roundQuorum > workers) {
      throw new IllegalArgumentException("--round-quorum must be 0 (every update) to --workers " + workers + ", got "
          + roundQuorum);
    }
    if (!(roundGrace >= 0) || Double.isInfinite(roundGrace)) {
      throw new IllegalArgumentException("--round-grace must be >= 0 seconds, got " + roundGrace);
    }
    if (!(heartbeatTimeout > 0)) {
      throw new IllegalArgumentException("--heartbeat-timeout must be > 0 seconds, got " + heartbeatTimeout);
    }
    if (!(maxUpdateValue > 0)) {
      throw new IllegalArgumentException("--max-update-value must be > 0, got " + maxUpdateValue);
    }
    if (!(updateOutlierFactor == 0 || updateOutlierFactor > 1) || Double.isInfinite(updateOutlierFactor)) {
      throw new IllegalArgumentException("--update-outlier-factor must be 0 (off) or > 1, got " + updateOutlierFactor);
    }
  }

  private static void positive(String name, long v) {
    if (v < 1) {
      throw new IllegalArgumentException("--" + name + " must be >= 1, got " + v);
    }
  }

  private static long defaultWarmup(long steps) {
    return Math.max(1, steps / 10);
  }

  @JsonIgnore
  public RoundMode roundMode() {
    return RoundMode.parse(mode);
  }

  /** The rules every round follows, the same on the coordinator and every worker. */
  @JsonIgnore
  public RoundRules rules() {
    return new RoundRules(MergeRule.parse(merge), sliceRounds, InnerState.parse(innerState), WirePrecision.parse(wire),
        wireDensity, roundWarmup, overlap);
  }

  @JsonIgnore
  public Precision precision() {
    return Precision.parse(dtype);
  }

  /** {@code minWorkers}, with 0 read as {@code workers}. */
  @JsonIgnore
  public int minLiveWorkers() {
    return minWorkers == 0 ? workers : minWorkers;
  }

  /** All local steps of the run: the learning-rate schedule spans them. */
  @JsonIgnore
  public long totalSteps() {
    return (long) rounds * localSteps;
  }

  /**
   * The workers' training configuration: adapters on their slices (or full rank in mode full), never
   * merging within a round, on a schedule that spans the whole run.
   */
  @JsonIgnore
  public TrainConfig trainConfig() {
    long steps = totalSteps();
    return new TrainConfig(seqLen, batchSize, 1, steps, warmup == null ? defaultWarmup(steps) : warmup, lr,
        minLr == null ? lr / 10 : minLr, beta1, beta2, eps, weightDecay, gradClip, seed, precision(), workerMethod());
  }

  private MethodSpec workerMethod() {
    return roundMode().projected()
        ? new MethodSpec(MethodSpec.Method.ADAPTER, "orthogonal", rank, Integer.MAX_VALUE,
            MethodSpec.StatePolicy.RESET, MethodSpec.Optimizer.ADAMW, "fp32", scale)
        : new MethodSpec(MethodSpec.Method.FULL, "orthogonal", 0, Integer.MAX_VALUE,
            MethodSpec.StatePolicy.CARRY, MethodSpec.Optimizer.ADAMW, "fp32", scale);
  }

  /** The preset with the dataset's vocabulary, its positions at least {@code seqLen}. */
  public LlamaConfig model(int vocabSize) {
    LlamaConfig base = LlamaConfig.preset(preset).withVocabSize(vocabSize);
    return base.maxPositionEmbeddings() >= seqLen ? base : base.withMaxPositionEmbeddings(seqLen);
  }

  /** Every setting by its {@code snake_case} name, in declaration order (null where derived). */
  public Map<String, Object> asMap() {
    @SuppressWarnings("unchecked")
    Map<String, Object> m = JSON.convertValue(this, LinkedHashMap.class);
    return m;
  }

  /** The settings the trajectory of the weights depends on: all but {@link #OPERATIONAL}. */
  public Map<String, Object> trajectory() {
    Map<String, Object> m = asMap();
    m.keySet().removeAll(OPERATIONAL);
    TrainConfig t = trainConfig(); // what the derived settings resolve to
    m.put("min_lr", t.minLr());
    m.put("warmup", t.warmup());
    return m;
  }

  /** This run with some settings replaced, by {@code snake_case} name (unknown names are refused). */
  public RunConfig with(Map<String, ?> changes) {
    Map<String, Object> m = asMap();
    for (Map.Entry<String, ?> e : changes.entrySet()) {
      if (!m.containsKey(e.getKey())) {
        throw new IllegalArgumentException("unknown run setting '" + e.getKey() + "'; allowed: " + m.keySet());
      }
      m.put(e.getKey(), e.getValue());
    }
    return fromMap(m);
  }

  /** This run with one setting replaced. */
  public RunConfig with(String name, Object value) {
    return with(Map.of(name, value));
  }

  /** A run from settings by name; a missing one takes its default. */
  public static RunConfig fromMap(Map<String, ?> settings) {
    Map<String, Object> m = DEFAULTS.asMap();
    m.putAll(settings);
    try {
      return JSON.convertValue(m, RunConfig.class);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(reason(e), e);
    }
  }

  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write the run configuration: " + e.getMessage(), e);
    }
  }

  /** @throws IllegalArgumentException naming the setting that is unknown, malformed or out of range */
  public static RunConfig fromJson(String json) {
    try {
      @SuppressWarnings("unchecked")
      Map<String, Object> m = JSON.readValue(json, LinkedHashMap.class);
      return fromMap(m);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("run configuration is not a JSON object: " + e.getOriginalMessage(), e);
    }
  }

  /** Reads a {@code run.json}. */
  public static RunConfig read(Path file) throws IOException {
    try {
      return fromJson(Files.readString(file));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
  }

  /** Writes this as {@code file} (a {@code run.json}). */
  public void write(Path file) throws IOException {
    Files.writeString(file, toJson() + "\n");
  }

  /** The record's components in declaration order (the options derive from them). */
  public static List<RecordComponent> components() {
    return List.of(RunConfig.class.getRecordComponents());
  }

  /** A run from one value per component, in declaration order (the command line's way in). */
  public static RunConfig of(Object... values) {
    Class<?>[] types = components().stream().map(RecordComponent::getType).toArray(Class<?>[]::new);
    try {
      Constructor<RunConfig> c = RunConfig.class.getDeclaredConstructor(types);
      return c.newInstance(values);
    } catch (InvocationTargetException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException(e.getCause());
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("RunConfig's canonical constructor: " + e.getMessage(), e);
    }
  }

  /**
   * The one line a failed conversion deserves: the record's own check (which Jackson wraps in a
   * ValueInstantiationException), an unknown name, or the setting whose value did not convert.
   */
  private static String reason(IllegalArgumentException e) {
    for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
      if (t instanceof ValueInstantiationException v && v.getCause() != null) {
        return v.getCause().getMessage();
      }
      if (t instanceof UnrecognizedPropertyException u) {
        return "unknown run setting '" + u.getPropertyName() + "'; allowed: " + DEFAULTS.asMap().keySet();
      }
      if (t instanceof JsonMappingException j) {
        String path = j.getPath().isEmpty() ? "" : j.getPath().get(0).getFieldName();
        return "run setting '" + path + "': " + j.getOriginalMessage();
      }
    }
    return e.getMessage();
  }

}
