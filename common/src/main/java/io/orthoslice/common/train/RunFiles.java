package io.orthoslice.common.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The files of a run directory that one process writes and another reads ({@code orthoslice report},
 * {@code sweep}), by name, and the append-only progress records: one JSON object per line, appended
 * as the run goes, so a running or crashed run can be read from what is on disk.
 *
 * <p>A record is appended once its round (or evaluation) is complete. A resumed run trains again
 * what came after its checkpoint and appends those records again: readers keep the last record of
 * each round or step ({@link #read} returns them in file order). A crash in the middle of an append
 * can leave a torn last line, which {@link #read} skips.
 */
public final class RunFiles {

  /** The finished run: its settings and what it measured (a coordinator's or {@code train}'s). */
  public static final String SUMMARY = "summary.json";
  /** A distributed run's settings as the coordinator ran them (a {@code RunConfig}); written at its start. */
  public static final String RUN_CONFIG = "run.json";
  /** {@code train}'s model, settings and dataset, written at its start (the keys its summary.json has). */
  public static final String TRAIN_CONFIG = "train.json";
  /** The coordinator's record of every merged round (its {@code RoundResult}), appended as it merges. */
  public static final String ROUNDS = "rounds.jsonl";
  /** {@code train}'s record of every evaluation ({@link EvaluationRecord}), appended as it evaluates. */
  public static final String EVALUATIONS = "evaluations.jsonl";

  private static final ObjectMapper JSON = new ObjectMapper();

  private RunFiles() {}

  /** Appends {@code record} as one JSON line to {@code file} (created with its directory when missing). */
  public static synchronized void append(Path file, Object record) throws IOException {
    byte[] line = (JSON.writeValueAsString(record) + "\n").getBytes(StandardCharsets.UTF_8);
    Files.createDirectories(file.toAbsolutePath().getParent());
    Files.write(file, line, StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
  }

  /**
   * The records of {@code file} in file order (none when it does not exist). A last line that does not parse
   * is a torn append and is skipped; any other that does not is an error naming the file and the line.
   */
  public static List<JsonNode> read(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      return List.of();
    }
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    List<JsonNode> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).isBlank()) {
        continue;
      }
      try {
        JsonNode n = JSON.readTree(lines.get(i));
        if (!n.isObject()) {
          throw new IllegalArgumentException(file + " line " + (i + 1) + " is not a JSON object");
        }
        out.add(n);
      } catch (JsonProcessingException e) {
        if (i < lines.size() - 1) {
          throw new IllegalArgumentException(file + " line " + (i + 1) + " is not JSON: " + e.getOriginalMessage());
        }
      }
    }
    return out;
  }
}
