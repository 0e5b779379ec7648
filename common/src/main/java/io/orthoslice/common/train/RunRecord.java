package io.orthoslice.common.train;

import io.orthoslice.common.config.TrainConfig;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orthoslice.common.checkpoint.Checkpoint;
import io.orthoslice.common.checkpoint.TrainerState;
import io.orthoslice.common.model.LlamaConfig;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a checkpoint records about the run that produced it (config, seed, dataset, code version), and
 * the check that a resumed run is the same run: resuming with other settings would silently produce a
 * trajectory that matches neither.
 */
final class RunRecord {

  private static final ObjectMapper JSON = new ObjectMapper();

  private RunRecord() {}

  @SuppressWarnings("unchecked")
  static Map<String, Object> toMap(TrainConfig cfg) {
    return JSON.convertValue(cfg, LinkedHashMap.class);
  }

  /** @param evalBatches the run's validation batches ({@code eval} scores the same windows by default) */
  static TrainerState trainerState(Trainer t, long dataPosition, String datasetId, int evalBatches) {
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("dataset_id", datasetId);
    extra.put("seq_len", t.config().seqLen());
    extra.put("batch_size", t.config().microBatch());
    extra.put("eval_batches", evalBatches);
    double[] ls = t.lossScaler().snapshot();
    extra.put("loss_scale", List.of(ls[0], ls[1]));
    String version = RunRecord.class.getPackage().getImplementationVersion();
    extra.put("code_version", version == null ? "dev" : version);
    return new TrainerState(t.step(), dataPosition, t.step() * t.config().tokensPerStep(), t.config().seed(),
        toMap(t.config()), extra);
  }

  static void requireSameRun(Checkpoint ckpt, LlamaConfig model, TrainConfig cfg, String datasetId) {
    if (!ckpt.config().equals(model)) {
      throw new IllegalArgumentException("--resume: the checkpoint's model shape " + ckpt.config()
          + " differs from the requested " + model);
    }
    TrainerState st = ckpt.trainerState();
    if (st == null) {
      throw new IllegalArgumentException("--resume: the checkpoint has no trainer state (a plain Hugging Face"
          + " checkpoint); use --init-from to start from it");
    }
    Map<String, Object> saved = st.run();
    Map<String, Object> now = toMap(cfg);
    for (Map.Entry<String, Object> e : now.entrySet()) {
      Object before = saved.get(e.getKey());
      if (!String.valueOf(before).equals(String.valueOf(e.getValue()))) {
        throw new IllegalArgumentException("--resume: setting '" + e.getKey() + "' was " + before
            + " in the checkpointed run but is " + e.getValue() + " now; resume with the same settings");
      }
    }
    Object ds = st.extra().get("dataset_id");
    if (ds != null && !ds.equals(datasetId)) {
      throw new IllegalArgumentException("--resume: the checkpoint was trained on dataset " + ds
          + " but the current dataset is " + datasetId);
    }
  }

  /** What produced the run: the first keys of summary.json, and all of train.json. */
  private static Map<String, Object> producedBy(LlamaConfig model, TrainConfig cfg, String datasetId) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("model", model.toHuggingFace(0, 0));
    m.put("train_config", toMap(cfg));
    m.put("dataset_id", datasetId);
    String version = RunRecord.class.getPackage().getImplementationVersion();
    m.put("code_version", version == null ? "dev" : version);
    return m;
  }

  /** Writes {@link RunFiles#TRAIN_CONFIG} at the start of a run, so that a running run says what it is. */
  static void writeRunConfig(java.nio.file.Path dir, LlamaConfig model, TrainConfig cfg, String datasetId) {
    write(dir.resolve(RunFiles.TRAIN_CONFIG), producedBy(model, cfg, datasetId));
  }

  /** Writes summary.json beside the checkpoints: what produced the run and what it measured. */
  static void writeSummary(java.nio.file.Path dir, LlamaConfig model, TrainConfig cfg, String datasetId,
      TrainingRun.Summary s) {
    Map<String, Object> m = producedBy(model, cfg, datasetId);
    m.put("steps", s.steps());
    m.put("tokens", s.tokens());
    m.put("first_train_loss", s.firstLoss());
    m.put("last_train_loss", s.lastLoss());
    m.put("validation_loss", s.validationLoss());
    m.put("validation_perplexity", s.validationPerplexity());
    m.put("seconds", s.seconds());
    Map<String, Object> mem = new LinkedHashMap<>();
    mem.put("weight_bytes", s.memory().weightBytes());
    mem.put("gradient_bytes", s.memory().gradientBytes());
    mem.put("optimizer_state_bytes", s.memory().optimizerBytes());
    mem.put("persisted_projection_bytes", s.memory().projectionBytes());
    m.put("memory", mem);
    write(dir.resolve(RunFiles.SUMMARY), m);
  }

  private static void write(java.nio.file.Path file, Map<String, Object> m) {
    try {
      java.nio.file.Files.createDirectories(file.getParent());
      io.orthoslice.common.checkpoint.AtomicFiles.write(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(m));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot write " + file, e);
    }
  }

  @SuppressWarnings("unchecked")
  static double[] lossScale(TrainerState st) {
    Object v = st.extra().get("loss_scale");
    if (!(v instanceof List<?> l) || l.size() != 2) {
      return null;
    }
    return new double[] {((Number) l.get(0)).doubleValue(), ((Number) l.get(1)).doubleValue()};
  }
}
