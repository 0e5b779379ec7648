package io.orthoslice.worker.report;

import io.orthoslice.worker.plot.Charts;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;

/** {@code orthoslice report}: a run directory, finished or running, as one self-contained HTML page. */
public final class RunReport {

  /** What was written: the page, how many charts it draws and how many it could not. */
  public record Written(Path file, String status, int charts, int notDrawn) {}

  private RunReport() {}

  /**
   * Reads {@code runDir} and writes its report to {@code file}.
   *
   * @throws IllegalArgumentException when {@code runDir} is not a run directory (one line naming it and what
   *     was expected), or this Java runtime cannot draw
   */
  public static Written write(Path runDir, Path file) throws IOException {
    if (!Charts.available()) {
      throw new IllegalArgumentException("this Java runtime has no java.desktop module, which drawing the charts"
          + " needs; run the report with a full JDK or JRE");
    }
    RunData d = RunDirectory.read(runDir);
    List<ReportCharts.Figure> figures = ReportCharts.draw(d);
    String generated = ZonedDateTime.now().format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss z"));
    Path parent = file.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    Files.writeString(file, ReportPage.html(d, figures, generated), StandardCharsets.UTF_8);
    int drawn = (int) figures.stream().filter(ReportCharts.Figure::drawn).count();
    return new Written(file, d.status(), drawn, figures.size() - drawn);
  }
}
