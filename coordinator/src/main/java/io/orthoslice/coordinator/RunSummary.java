package io.orthoslice.coordinator;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orthoslice.common.checkpoint.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code summary.json}: the run's settings and every round it merged, across resumes. A coordinator
 * resumed from round r's checkpoint keeps the earlier process's rounds before r (the ones after it
 * are trained again), its starting validation loss and its seconds, so the file describes the whole
 * run however often it was restarted.
 *
 * @param initialValidationLoss of the run's initial weights (the first process's)
 * @param earlierSeconds what earlier processes of the run spent
 * @param earlierRounds their rounds before this process's first
 */
public record RunSummary(double initialValidationLoss, double earlierSeconds, List<RoundResult> earlierRounds) {

  public static final String FILE = io.orthoslice.common.train.RunFiles.SUMMARY;

  private static final ObjectMapper JSON = new ObjectMapper()
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  /** A run's first process: nothing earlier. */
  public static RunSummary fresh() {
    return new RunSummary(Double.NaN, 0, List.of());
  }

  /**
   * What an earlier process of the run left in {@code output}'s summary before round {@code
   * firstRound} (0-based); {@link #fresh()} when there is no summary.
   *
   * @throws IOException when a summary is there but cannot be read as one
   */
  public static RunSummary earlier(Path output, long firstRound) throws IOException {
    Path f = output.resolve(FILE);
    if (!Files.isRegularFile(f)) {
      return fresh();
    }
    JsonNode s = JSON.readTree(f.toFile());
    List<RoundResult> rounds = new ArrayList<>();
    for (JsonNode r : s.path("round_results")) {
      RoundResult result = JSON.treeToValue(r, RoundResult.class);
      if (result.round() < firstRound) {
        rounds.add(result);
      }
    }
    JsonNode initial = s.get("initial_validation_loss");
    return new RunSummary(initial == null || !initial.isNumber() ? Double.NaN : initial.asDouble(),
        s.path("seconds").asDouble(0), rounds);
  }

  /** The whole run's rounds: the earlier ones, then this process's. */
  public List<RoundResult> allRounds(List<RoundResult> now) {
    List<RoundResult> all = new ArrayList<>(earlierRounds);
    all.addAll(now);
    return all;
  }

  /**
   * Writes the summary of the whole run (atomically: a crash mid-write leaves the previous one).
   *
   * @param initialNow this process's starting validation loss (the run's, unless it resumed)
   */
  public void write(Path output, RunSettings s, double initialNow, List<RoundResult> now, double secondsNow)
      throws IOException {
    List<RoundResult> all = allRounds(now);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("config", s.config().asMap());
    m.put("dataset_id", s.datasetId());
    m.put("seconds", earlierSeconds + secondsNow);
    m.put("initial_validation_loss", Double.isNaN(initialValidationLoss) ? initialNow : initialValidationLoss);
    // Over the whole run: all training seconds over all round seconds (rounds that merged nothing aside).
    double train = all.stream().filter(r -> !r.mergedSlots().isEmpty()).mapToDouble(RoundResult::trainSeconds).sum();
    double round = all.stream().filter(r -> !r.mergedSlots().isEmpty()).mapToDouble(RoundResult::roundSeconds).sum();
    m.put("round_efficiency", round > 0 ? train / round : null);
    m.put("round_results", all);
    Files.createDirectories(output);
    AtomicFiles.write(output.resolve(FILE),
        JSON.writerWithDefaultPrettyPrinter().writeValueAsString(m).getBytes(StandardCharsets.UTF_8));
  }
}
