package io.orthoslice.worker.launch;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/** The repository's prometheus.yml re-pointed at a test's ports, and promtool's verdict on a text. */
final class PrometheusConfig {

  private PrometheusConfig() {}

  /**
   * Replaces the coordinator's target, the workers' target list and every scrape/evaluation
   * interval; everything else of the file stays as the repository has it.
   */
  static String pointedAt(String yaml, int coordinatorPort, List<Integer> workerPorts, String interval) {
    String workers = workerPorts.stream().map(p -> "'127.0.0.1:" + p + "'").collect(Collectors.joining(", "));
    StringBuilder out = new StringBuilder();
    int replaced = 0;
    for (String line : yaml.split("\n", -1)) {
      String indent = line.substring(0, line.length() - line.stripLeading().length());
      if (line.contains("targets:") && line.contains(":9400")) {
        line = indent + "- targets: ['127.0.0.1:" + coordinatorPort + "']";
        replaced++;
      } else if (line.contains("targets:") && line.contains(":9401")) {
        line = indent + "- targets: [" + workers + "]";
        replaced++;
      } else if (line.stripLeading().startsWith("scrape_interval:")
          || line.stripLeading().startsWith("evaluation_interval:")) {
        line = indent + line.strip().substring(0, line.strip().indexOf(':') + 1) + " " + interval;
      }
      out.append(line).append('\n');
    }
    if (replaced != 2) {
      throw new IllegalArgumentException("expected one coordinator (:9400) and one worker (:9401) target line, found "
          + replaced);
    }
    return out.toString();
  }

  /** What {@code promtool check metrics} prints for {@code text} (empty: no problems); its exit status too. */
  static String promtoolProblems(Path promtool, String text, Path dir) throws IOException, InterruptedException {
    Path in = Files.createTempFile(dir, "scrape", ".txt");
    Files.writeString(in, text);
    Process p = new ProcessBuilder(promtool.toString(), "check", "metrics").redirectErrorStream(true)
        .redirectInput(in.toFile()).start();
    String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return "promtool did not finish";
    }
    return p.exitValue() == 0 ? said : ("exit " + p.exitValue() + ": " + said);
  }
}
