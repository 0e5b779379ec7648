package io.orthoslice.coordinator;

import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.checkpoint.Checkpoint;
import io.orthoslice.common.checkpoint.CheckpointStore;
import io.orthoslice.common.checkpoint.TrainerState;
import io.orthoslice.common.model.ParameterSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Coordinator checkpoints in the common {@link CheckpointStore} layout (loadable by Hugging Face):
 * the merged weights, the outer optimizer's momentum as optimizer state ({@code <param>.outer_momentum}) and, on
 * a lossy wire, the broadcast's error-feedback residual ({@code <param>.broadcast_residual}),
 * and the round state in {@code trainer_state.json}: step = rounds done x H, the data cursor, and
 * extra {round, weights_version, validation_loss, mode, rank, dataset_id}.
 */
public final class RoundCheckpoints implements Checkpointer {

  private static final Logger LOG = LoggerFactory.getLogger(RoundCheckpoints.class);
  private static final String MOMENTUM = ".outer_momentum";
  /** The broadcast's error-feedback residual of a lossy wire, so a resumed run continues exactly. */
  private static final String RESIDUAL = ".broadcast_residual";

  private final CheckpointStore store;
  private final RunSettings settings;
  private final int bosId;
  private final int eosId;

  public RoundCheckpoints(Path dir, int keep, RunSettings settings, int bosId, int eosId) {
    this.store = new CheckpointStore(dir, keep);
    this.settings = settings;
    this.bosId = bosId;
    this.eosId = eosId;
  }

  @Override
  public void save(ResumeState s, RoundResult result) {
    long step = s.nextRound() * settings.localSteps();
    try (NDManager m = NDManager.newBaseManager()) {
      LinkedHashMap<String, NDArray> weights = new LinkedHashMap<>();
      LinkedHashMap<String, NDArray> momentum = new LinkedHashMap<>();
      for (ParameterSpec p : settings.model().parameters()) {
        weights.put(p.name(), HostArrays.of(m, s.weights().values().get(p.name()), new Shape(p.shape())));
        float[] v = s.mergerState().get(p.name());
        if (v != null) {
          momentum.put(p.name() + MOMENTUM, HostArrays.of(m, v, new Shape(p.shape())));
        }
        float[] e = s.mergerState().get(RoundMerger.BROADCAST_RESIDUAL + p.name());
        if (e != null) {
          momentum.put(p.name() + RESIDUAL, HostArrays.of(m, e, new Shape(p.shape())));
        }
      }
      Map<String, Object> extra = new LinkedHashMap<>();
      extra.put("round", s.nextRound());
      extra.put("weights_version", s.weights().version());
      extra.put("validation_loss", Double.isFinite(s.validationLoss()) ? s.validationLoss() : -1.0);
      extra.put("dataset_id", settings.datasetId());
      // The run's validation windows, which `orthoslice eval` of this checkpoint scores by default.
      extra.put("seq_len", settings.train().seqLen());
      extra.put("batch_size", settings.train().microBatch());
      extra.put("eval_batches", settings.evalBatches());
      TrainerState ts = new TrainerState(step, s.dataCursor(), s.dataCursor() * (settings.train().seqLen() + 1L),
          settings.train().seed(), runRecord(settings), extra);
      Path dir = store.save(CheckpointStore.stepName(step),
          new Checkpoint(settings.model(), weights, momentum, ts, bosId, eosId));
      LOG.info("checkpoint after round {}: {}", s.nextRound(), dir);
    } catch (IOException e) {
      // The store names the failed checkpoint and the last good one itself; a fault before it got that
      // far (the directory cannot even be made) is named here, with the last good checkpoint.
      String why = e.getMessage() != null && e.getMessage().contains("last good") ? e.getMessage()
          : "could not be written to " + store.root() + " (" + e.getClass().getSimpleName() + ": " + e.getMessage()
              + "); " + lastGood();
      throw new UncheckedIOException("checkpoint after round " + s.nextRound() + ": " + why, e);
    }
  }

  /**
   * Every setting the trajectory depends on, beside the model shape (checked on its own): a resumed
   * run continues exactly only when all of them are the checkpoint's.
   */
  static Map<String, Object> runRecord(RunSettings s) {
    Map<String, Object> run = new LinkedHashMap<>(s.config().trajectory());
    run.put("dataset_id", s.datasetId());
    return run;
  }

  /** Numbers compare by value (JSON reads 4 back as an Integer or a Long, 0.5 as a Double). */
  private static Object comparable(Object v) {
    return v instanceof Number n ? (Object) n.doubleValue() : v;
  }

  /** The newest checkpoint's directory under {@code dir}, if any (none when {@code dir} does not exist). */
  public static Optional<Path> latestIn(Path dir) {
    try {
      return new CheckpointStore(dir, 1).latest();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read checkpoints in " + dir + ": " + e.getMessage(), e);
    }
  }

  /** The state of the newest checkpoint, if any; refuses one of another mode, rank or H. */
  public Optional<ResumeState> latest() {
    try {
      Optional<Path> dir = store.latest();
      if (dir.isEmpty()) {
        return Optional.empty();
      }
      try (NDManager m = NDManager.newBaseManager()) {
        Checkpoint c = store.load(dir.get(), m, DataType.FLOAT32);
        if (!c.config().equals(settings.model())) {
          throw new IllegalArgumentException("--resume: checkpoint " + dir.get() + " has another model shape");
        }
        TrainerState ts = c.trainerState();
        for (Map.Entry<String, Object> e : runRecord(settings).entrySet()) {
          Object saved = ts.run().get(e.getKey());
          // A key an older checkpoint lacks held that version's only behaviour, the default.
          if (saved != null && !comparable(saved).equals(comparable(e.getValue()))) {
            throw new IllegalArgumentException("--resume: checkpoint " + dir.get() + " was made with "
                + e.getKey() + " " + saved + ", this run has " + e.getValue() + "; resume with the same setting"
                + " (a change would not continue the run exactly)");
          }
        }
        LinkedHashMap<String, float[]> w = new LinkedHashMap<>();
        Map<String, float[]> momentum = new LinkedHashMap<>();
        for (ParameterSpec p : settings.model().parameters()) {
          w.put(p.name(), c.weights().get(p.name()).toFloatArray());
          NDArray v = c.optimizerState().get(p.name() + MOMENTUM);
          if (v != null) {
            momentum.put(p.name(), v.toFloatArray());
          }
          NDArray e = c.optimizerState().get(p.name() + RESIDUAL);
          if (e != null) {
            momentum.put(RoundMerger.BROADCAST_RESIDUAL + p.name(), e.toFloatArray());
          }
        }
        long round = ((Number) ts.extra().get("round")).longValue();
        long version = ((Number) ts.extra().get("weights_version")).longValue();
        double val = ((Number) ts.extra().get("validation_loss")).doubleValue();
        LOG.info("resuming from {} at round {}", dir.get(), round + 1);
        return Optional.of(new ResumeState(round, ts.dataCursor(), new WeightsSnapshot(version, w), momentum,
            val < 0 ? Double.NaN : val));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read checkpoints in " + store.root() + ": " + e.getMessage(), e);
    }
  }

  /** "the last good checkpoint is <dir>", or that there is none, for the line a failed save ends with. */
  private String lastGood() {
    try {
      return store.latest().map(p -> "the last good checkpoint is " + p + ", intact")
          .orElse("there is no earlier checkpoint");
    } catch (IOException | RuntimeException e) {
      return "the earlier checkpoints cannot be listed either (" + e.getMessage() + ")";
    }
  }
}
