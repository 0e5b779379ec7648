package io.orthoslice.worker.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orthoslice.common.train.RunFiles;
import io.orthoslice.worker.report.RunData.Kind;
import io.orthoslice.worker.report.RunData.Point;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads a run directory, finished or still running, into {@link RunData}: a {@code launch --run-dir} (its
 * {@code coordinator/} inside), a {@code coordinator --output} or a {@code train --output}. Only what is on
 * disk counts: the progress records ({@link RunFiles#ROUNDS}, {@link RunFiles#EVALUATIONS}) as far as they
 * go, else a finished run's summary.json; the settings from the file written at the start.
 */
final class RunDirectory {

  static final String EXPECTED = "expected a launch --run-dir (run.json and coordinator/), a coordinator --output ("
      + RunFiles.ROUNDS + ", " + RunFiles.RUN_CONFIG + " or " + RunFiles.SUMMARY + ") or a train --output ("
      + RunFiles.TRAIN_CONFIG + ", " + RunFiles.EVALUATIONS + " or " + RunFiles.SUMMARY + ")";

  private static final ObjectMapper JSON = new ObjectMapper();

  private RunDirectory() {}

  /**
   * @throws IllegalArgumentException when {@code dir} is not a run directory, or one of its files is not what
   *     that run writes (one line, naming the path)
   */
  static RunData read(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException(dir + " is not a directory; " + EXPECTED);
    }
    Path launched = dir.resolve("coordinator");
    if (Files.isDirectory(launched) && Files.isRegularFile(dir.resolve(RunFiles.RUN_CONFIG))) {
      return coordinator(dir, launched, Kind.LAUNCH);
    }
    JsonNode summary = json(dir.resolve(RunFiles.SUMMARY));
    if (Files.isRegularFile(dir.resolve(RunFiles.ROUNDS)) || Files.isRegularFile(dir.resolve(RunFiles.RUN_CONFIG))
        || summary != null && summary.has("round_results")) {
      return coordinator(dir, dir, Kind.COORDINATOR);
    }
    if (Files.isRegularFile(dir.resolve(RunFiles.TRAIN_CONFIG))
        || Files.isRegularFile(dir.resolve(RunFiles.EVALUATIONS)) || summary != null && summary.has("train_config")) {
      return train(dir);
    }
    throw new IllegalArgumentException(dir + " is not a run directory; " + EXPECTED);
  }

  private static RunData coordinator(Path dir, Path output, Kind kind) throws IOException {
    JsonNode summary = json(output.resolve(RunFiles.SUMMARY));
    JsonNode runJson = json(dir.resolve(RunFiles.RUN_CONFIG));
    if (runJson == null) {
      runJson = json(output.resolve(RunFiles.RUN_CONFIG));
    }
    JsonNode config = runJson != null ? runJson : summary == null ? null : summary.get("config");
    List<String> missing = new ArrayList<>();
    List<JsonNode> records = RunFiles.read(output.resolve(RunFiles.ROUNDS));
    if (records.isEmpty() && summary != null) {
      summary.path("round_results").forEach(records::add);
      if (!records.isEmpty()) {
        missing.add("The rounds come from " + RunFiles.SUMMARY + ": this run has no " + RunFiles.ROUNDS
            + " (it predates it).");
      }
    }
    TreeMap<Long, JsonNode> byRound = lastOf(records, "round");
    List<Point> points = new ArrayList<>();
    long tokens = 0;
    for (JsonNode r : byRound.values()) {
      tokens += r.path("tokens").asLong(0);
      double fetch = num(r, "fetchSeconds");
      double train = num(r, "trainSeconds");
      double merge = num(r, "mergeSeconds");
      double round = num(r, "roundSeconds");
      LinkedHashMap<String, Double> time = new LinkedHashMap<>();
      time.put("fetch", fetch);
      time.put("train", train);
      time.put("merge", merge);
      time.put("rest (upload, waiting)", Math.max(0, round - fetch - train - merge));
      double update = num(r, "updateBroadcastBytes");
      int merged = r.path("mergedSlots").size();
      points.add(new Point(r.path("round").asLong() + 1, tokens, num(r, "validationLoss"), num(r, "meanLoss"), time,
          round, num(r, "evalSeconds"), num(r, "uploadBytesPerWorker"), update > 0 ? update : num(r, "fullBroadcastBytes"),
          num(r, "bytesPerToken"), num(r, "syncDpBytesPerToken"), r.path("participants").asInt(), merged,
          merged == 0 || !(round > 0) ? Double.NaN : train / round));
    }
    if (!points.isEmpty() && tokens == 0) {
      missing.add("Tokens per round are not in these records (written before they were recorded), so nothing is"
          + " drawn against tokens.");
    }
    int rounds = config == null ? -1 : config.path("rounds").asInt(-1);
    double initial = summary == null ? Double.NaN : num(summary, "initial_validation_loss");
    String status;
    if (summary != null && points.size() >= rounds) {
      status = String.format(Locale.ROOT, "finished: %d rounds in %.1f s", points.size(), num(summary, "seconds"));
    } else if (summary != null && points.size() == summary.path("round_results").size()) {
      status = "stopped after " + points.size() + " of " + rounds + " rounds (" + RunFiles.SUMMARY + " written)";
    } else {
      status = "in progress, or stopped before writing " + RunFiles.SUMMARY + ": " + points.size() + " of "
          + (rounds < 0 ? "?" : rounds) + " rounds on disk";
    }
    Map<String, String> facts = new LinkedHashMap<>();
    lastFinite(points).ifPresent(p -> facts.put("validation perplexity", String.format(Locale.ROOT, "%.2f%s (round %d)",
        Math.exp(p.validationLoss()), Double.isNaN(initial) ? "" : String.format(Locale.ROOT, ", from %.2f",
            Math.exp(initial)), p.index())));
    if (tokens > 0) {
      facts.put("tokens trained", String.format(Locale.ROOT, "%,d", tokens));
    }
    // Over the whole run, as summary.json has it: the merged rounds' training seconds over their seconds.
    double train = 0;
    double roundSeconds = 0;
    for (Point p : points) {
      if (p.merged() > 0) {
        train += p.time().get("train");
        roundSeconds += p.seconds();
      }
    }
    if (roundSeconds > 0) {
      facts.put("round efficiency", String.format(Locale.ROOT, "%.0f%% (training seconds over round seconds)",
          100 * train / roundSeconds));
    }
    if (!points.isEmpty()) {
      Point last = points.get(points.size() - 1);
      facts.put("bytes per trained token", String.format(Locale.ROOT, "%.1f (synchronous data parallel: %.1f)",
          last.bytesPerToken(), last.syncDpBytesPerToken()));
    }
    if (config == null) {
      missing.add("The run's settings are not on disk (no " + RunFiles.RUN_CONFIG + ", no " + RunFiles.SUMMARY + ").");
    }
    return new RunData(dir, kind, status, facts, flat(config), initial, points, missing);
  }

  private static RunData train(Path dir) throws IOException {
    JsonNode summary = json(dir.resolve(RunFiles.SUMMARY));
    JsonNode start = json(dir.resolve(RunFiles.TRAIN_CONFIG));
    JsonNode produced = start != null ? start : summary;
    List<String> missing = new ArrayList<>();
    List<Point> points = new ArrayList<>();
    for (JsonNode e : lastOf(RunFiles.read(dir.resolve(RunFiles.EVALUATIONS)), "step").values()) {
      double steps = num(e, "stepSeconds");
      double eval = num(e, "evalSeconds");
      double checkpoint = num(e, "checkpointSeconds");
      double seconds = num(e, "seconds");
      LinkedHashMap<String, Double> time = new LinkedHashMap<>();
      time.put("steps", steps);
      time.put("eval", eval);
      time.put("checkpoint", checkpoint);
      time.put("rest (batches, logging)", Math.max(0, seconds - steps - eval - checkpoint));
      points.add(new Point(e.path("step").asLong(), e.path("tokens").asLong(), num(e, "validationLoss"),
          num(e, "trainLoss"), time, seconds, eval, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 1, 1, Double.NaN));
    }
    if (points.isEmpty() && summary != null) {
      missing.add("This run has no " + RunFiles.EVALUATIONS + " (it predates it): only its final figures are known.");
    }
    long steps = produced == null ? -1 : produced.path("train_config").path("steps").asLong(-1);
    Map<String, String> facts = new LinkedHashMap<>();
    String status;
    if (summary != null) {
      status = String.format(Locale.ROOT, "finished: %d steps, %,d tokens in %.1f s", summary.path("steps").asLong(),
          summary.path("tokens").asLong(), num(summary, "seconds"));
      facts.put("validation perplexity", String.format(Locale.ROOT, "%.2f", num(summary, "validation_perplexity")));
      facts.put("train loss", String.format(Locale.ROOT, "%.4f -> %.4f", num(summary, "first_train_loss"),
          num(summary, "last_train_loss")));
      JsonNode mem = summary.path("memory");
      facts.put("memory (weights, gradients, optimizer state)", String.format(Locale.ROOT, "%s, %s, %s",
          mib(mem, "weight_bytes"), mib(mem, "gradient_bytes"), mib(mem, "optimizer_state_bytes")));
    } else {
      long at = points.isEmpty() ? 0 : points.get(points.size() - 1).index();
      status = "in progress, or stopped before writing " + RunFiles.SUMMARY + ": evaluated up to step " + at + " of "
          + (steps < 0 ? "?" : steps);
      lastFinite(points).ifPresent(p -> facts.put("validation perplexity", String.format(Locale.ROOT,
          "%.2f (step %d)", Math.exp(p.validationLoss()), p.index())));
    }
    if (!points.isEmpty()) {
      facts.put("tokens trained", String.format(Locale.ROOT, "%,d", points.get(points.size() - 1).tokens()));
    }
    Map<String, Object> config = new LinkedHashMap<>();
    if (produced != null) {
      config.putAll(flat(produced.get("train_config")));
      config.put("dataset_id", produced.path("dataset_id").asText());
      flat(produced.get("model")).forEach((k, v) -> config.put("model." + k, v));
    } else {
      missing.add("The run's settings are not on disk (no " + RunFiles.TRAIN_CONFIG + ", no " + RunFiles.SUMMARY
          + ").");
    }
    return new RunData(dir, Kind.TRAIN, status, facts, config, Double.NaN, points, missing);
  }

  /** The last record of each {@code key} (a resumed run records what it trains again once more). */
  private static TreeMap<Long, JsonNode> lastOf(List<JsonNode> records, String key) {
    TreeMap<Long, JsonNode> out = new TreeMap<>();
    for (JsonNode r : records) {
      out.put(r.path(key).asLong(), r);
    }
    return out;
  }

  private static java.util.Optional<Point> lastFinite(List<Point> points) {
    for (int i = points.size() - 1; i >= 0; i--) {
      if (Double.isFinite(points.get(i).validationLoss())) {
        return java.util.Optional.of(points.get(i));
      }
    }
    return java.util.Optional.empty();
  }

  /** A number field; NaN when absent, null or not a number (Jackson writes NaN as the string "NaN"). */
  static double num(JsonNode n, String field) {
    JsonNode v = n.get(field);
    if (v == null || v.isNull()) {
      return Double.NaN;
    }
    if (v.isNumber()) {
      return v.doubleValue();
    }
    try {
      return Double.parseDouble(v.asText());
    } catch (NumberFormatException e) {
      return Double.NaN;
    }
  }

  private static String mib(JsonNode n, String field) {
    return String.format(Locale.ROOT, "%.1f MiB", n.path(field).asLong() / (double) (1 << 20));
  }

  /** The JSON object in {@code f}, or null when there is no such file. */
  private static JsonNode json(Path f) throws IOException {
    if (!Files.isRegularFile(f)) {
      return null;
    }
    try {
      JsonNode n = JSON.readTree(f.toFile());
      if (n == null || !n.isObject()) {
        throw new IllegalArgumentException(f + " is not a JSON object");
      }
      return n;
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException(f + " is not JSON: " + e.getOriginalMessage(), e);
    }
  }

  /** An object's fields, nested objects as dotted names, values as their JSON text (null: none). */
  private static Map<String, Object> flat(JsonNode n) {
    Map<String, Object> out = new LinkedHashMap<>();
    if (n != null) {
      flat("", n, out);
    }
    return out;
  }

  private static void flat(String prefix, JsonNode n, Map<String, Object> out) {
    for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getValue().isObject()) {
        flat(prefix + e.getKey() + ".", e.getValue(), out);
      } else {
        out.put(prefix + e.getKey(), e.getValue().isValueNode() ? e.getValue().asText() : e.getValue().toString());
      }
    }
  }
}
