package io.orthoslice.worker.cli;

import io.orthoslice.worker.report.RunReport;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code orthoslice report RUN_DIR}: one HTML file with a run's charts, finished or still running. */
@Command(name = "report", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
      "Write one self-contained HTML page (charts as embedded PNGs) for a launch, coordinator or train run"
          + " directory, finished or still running: validation perplexity and loss against rounds (steps) and"
          + " tokens, where each round's time went, bytes per round and per token, workers, round efficiency,"
          + " and the run's settings."
    })
final class ReportCommand implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "RUN_DIR",
      description = "A launch --run-dir, a coordinator --output or a train --output.")
  Path runDir;

  @Option(names = "--output", paramLabel = "FILE", description = "The HTML file. Default: RUN_DIR/report.html.")
  Path output;

  @Override
  public Integer call() throws Exception {
    RunReport.Written w = RunReport.write(runDir, output == null ? runDir.resolve("report.html") : output);
    System.out.println("report: " + w.file() + " (" + w.status() + "; " + w.charts() + " charts"
        + (w.notDrawn() > 0 ? ", " + w.notDrawn() + " without the data they need" : "") + ")");
    return 0;
  }
}
