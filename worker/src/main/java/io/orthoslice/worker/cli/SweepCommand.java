package io.orthoslice.worker.cli;

import io.orthoslice.common.cli.RunConfigDefaults;
import io.orthoslice.common.config.RunConfig;
import io.orthoslice.worker.launch.LaunchConfig;
import io.orthoslice.worker.plot.Charts;
import io.orthoslice.worker.sweep.CellResult;
import io.orthoslice.worker.sweep.ResultsDoc;
import io.orthoslice.worker.sweep.SweepPlots;
import io.orthoslice.worker.sweep.SweepReport;
import io.orthoslice.worker.sweep.SweepRunner;
import io.orthoslice.worker.sweep.SweepSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code orthoslice sweep}: distributed runs over a grid of modes, worker counts, ranks, round rules
 * and learning rates, each a real coordinator and K worker processes; resumable; a Markdown table and
 * PNG plots at the end.
 */
@Command(name = "sweep", mixinStandardHelpOptions = true, sortOptions = false,
    defaultValueProvider = RunConfigDefaults.class,
    description = {"Run a grid of distributed runs (a coordinator and K worker processes each, as 'launch'),"
        + " resumably: every finished cell is a line of <output>/cells.jsonl and is not run again. With several"
        + " --lr and several --seeds: every lr on the first seed, then the other seeds at each configuration's"
        + " best lr. Writes <output>/results.md and PNG plots; --results-doc also puts the table into a section"
        + " of a Markdown file."})
final class SweepCommand implements Callable<Integer> {

  @Spec picocli.CommandLine.Model.CommandSpec commandSpec;

  @Option(names = "--modes", split = ",", defaultValue = "orthogonal,independent,same,full",
      description = "Modes. Default: ${DEFAULT-VALUE}.")
  List<String> modes;
  @Option(names = "--workers", split = ",", description = "Worker counts K. Default: ${DEFAULT-VALUE}.")
  List<Integer> workers;
  @Option(names = "--rank", description = "Rank r of every slice (or --fixed-kr). Default: ${DEFAULT-VALUE}.")
  int rank;
  @Option(names = "--fixed-kr", defaultValue = "0", paramLabel = "N",
      description = "Keep K r = N: r = N / K for each K (the paper's Table 4 shape).")
  int fixedKr;
  @Option(names = "--lr", split = ",", description = "Peak learning rates (cosine to lr/10)."
      + " Default: ${DEFAULT-VALUE}.")
  List<Double> lrs;
  @Option(names = {"--seeds", "--seed"}, split = ",", description = "Seeds. Default: ${DEFAULT-VALUE}.")
  List<Long> seeds;
  @Option(names = "--merge", split = ",", description = "sum | mean | sum*F | mean*F | auto (each mode's rule by construction: sum for orthogonal, mean"
          + " for the others); the baselines' auto and mean are one cell. Default: ${DEFAULT-VALUE}.")
  List<String> merges;
  @Option(names = "--slice-rounds", split = ",", description = "Slice lifetimes R. Default: ${DEFAULT-VALUE}.")
  List<Integer> sliceRounds;
  @Option(names = "--inner-state", split = ",", description = "reset | keep | transport. Default: ${DEFAULT-VALUE}.")
  List<String> innerStates;
  @Option(names = "--outer-lr", split = ",", description = "Outer learning rates. Default: ${DEFAULT-VALUE}.")
  List<Double> outerLrs;
  @Option(names = "--outer-momentum", split = ",", description = "Outer Nesterov momentum values. Default: ${DEFAULT-VALUE}.")
  List<Double> outerMomentums;
  @Option(names = "--wire", split = ",", description = "Wire precisions: f32 | f16 | int8 (with error feedback). Default: ${DEFAULT-VALUE}.")
  List<String> wires;
  @Option(names = "--wire-density", split = ",", description = "Fractions of a change's entries a lossy wire sends (f32 cells: 1). Default: ${DEFAULT-VALUE}.")
  List<Double> densities;
  @Option(names = "--scale", split = ",", description = "Adapter scales alpha of W + alpha B P^T"
      + " (projected modes; Adam makes alpha act as a learning-rate factor on the projected matrices only)."
      + " Default: ${DEFAULT-VALUE}.")
  List<Double> scales;
  @Option(names = "--round-warmup", split = ",", description = "Local steps of the learning-rate"
      + " ramp every round starts with (0: none). Default: ${DEFAULT-VALUE}.")
  List<Integer> roundWarmups;
  @Option(names = "--preset", description = "Default: ${DEFAULT-VALUE}.")
  String preset;
  @Option(names = "--seq-len", description = "Default: ${DEFAULT-VALUE}.")
  int seqLen;
  @Option(names = "--batch-size", description = "Sequences per local step and worker. Default: ${DEFAULT-VALUE}.")
  int batchSize;
  @Option(names = "--rounds", description = "Default: ${DEFAULT-VALUE}.")
  int rounds;
  @Option(names = "--local-steps", description = "Local steps H per round. Default: ${DEFAULT-VALUE}.")
  int localSteps;
  @Option(names = "--eval-batches", description = "Validation batches per evaluation. Default: ${DEFAULT-VALUE}.")
  int evalBatches;
  @Option(names = "--eval-every", description = "Validate every E rounds and after the last. Default: ${DEFAULT-VALUE}.")
  int evalEvery;
  @Option(names = "--data", paramLabel = "DIR", description = "Prepared dataset (default: the embedded Europarl sample).")
  Path data;
  @Option(names = "--tokenizer", description = "Default: ${DEFAULT-VALUE}.")
  String tokenizer;
  @Option(names = "--config", paramLabel = "RUN_JSON", description = "Every cell's other settings from this run.json"
      + " (the axes and the options above replace its values); default: the run defaults.")
  Path config;
  @Option(names = "--gpu", defaultValue = "-1", description = "Put every worker on this GPU (-1: CPU). Default: ${DEFAULT-VALUE}.")
  int gpu;
  @Option(names = "--threads", defaultValue = LaunchConfig.AUTO_THREADS,
      description = "Torch threads per process (0: as launch's"
      + " --threads 0). Default: ${DEFAULT-VALUE}.")
  int threads;
  @picocli.CommandLine.Mixin io.orthoslice.common.cli.LinkOptions link; // every worker's simulated link

  @Option(names = "--output", defaultValue = "runs/sweep", description = "Sweep directory. Default: ${DEFAULT-VALUE}.")
  Path output;
  @Option(names = "--results-doc", paramLabel = "FILE", description = "Also write the table into this Markdown file"
      + " (section --section) and the plots beside it (--figures).")
  Path resultsDoc;
  @Option(names = "--section", defaultValue = "distributed", description = "Section name in --results-doc. Default: ${DEFAULT-VALUE}.")
  String section;
  @Option(names = "--figures", paramLabel = "DIR", description = "Where --results-doc's plots go. Default: <results-doc's dir>/figures.")
  Path figures;
  @Option(names = "--report-only", description = "Only write the report of the cells already run.")
  boolean reportOnly;

  @Override
  public Integer call() throws Exception {
    boolean rankGiven = commandSpec.commandLine().getParseResult().hasMatchedOption("--rank");
    if (fixedKr > 0 && rankGiven) {
      throw new IllegalArgumentException("give exactly one of --rank and --fixed-kr");
    }
    SweepSpec spec = new SweepSpec(preset, seqLen, batchSize, rounds, localSteps, evalBatches, evalEvery,
        data == null ? null : data.toString(), tokenizer, gpu, threads, modes, workers, fixedKr > 0 ? 0 : rank, fixedKr,
        merges,
        sliceRounds, innerStates, outerLrs, outerMomentums, wires, densities, scales, roundWarmups, lrs, seeds);
    List<String> jvm = reportOnly ? List.of() : LaunchCommand.childJvm(LaunchCommand.parameters(preset, tokenizer, data), gpu >= 0);
    SweepRunner runner = new SweepRunner(spec, config == null ? RunConfig.DEFAULTS : RunConfig.read(config), output,
        jvm, System.out).workerArgs(link.args());
    List<CellResult> results = reportOnly ? reportable(spec, runner) : runner.run();
    List<String> args = new ArrayList<>(commandSpec.commandLine().getParseResult().originalArgs());
    if (!args.isEmpty() && args.get(0).equals("sweep")) {
      args.remove(0); // the parent command's parse result starts with the subcommand's name
    }
    String command = "orthoslice sweep " + String.join(" ", args);
    String md = SweepReport.markdown(spec, results, command);
    Files.writeString(output.resolve("results.md"), md, StandardCharsets.UTF_8);
    if (!Charts.available()) {
      System.err.println("plots skipped: this Java runtime has no java.desktop module, which the charts need;"
          + " run 'orthoslice sweep --report-only' with the same options on a full JDK to draw them");
    }
    List<Path> plots = SweepPlots.write(results, output, section, preset);
    System.out.println(md.substring(0, md.indexOf("\n| cell |")));
    System.out.println("wrote " + output.resolve("results.md") + " and " + plots.size() + " plots in " + output);
    // A best lr at the edge of its grid is not yet the mode's best: say so, not only in the table's mark.
    SweepReport.gridEdgeWarnings(results).forEach(w -> System.err.println("warning: " + w));
    if (resultsDoc != null) {
      Path figDir = figures != null ? figures
          : (resultsDoc.toAbsolutePath().getParent().resolve("figures"));
      List<Path> docPlots = SweepPlots.write(results, figDir, section, preset);
      StringBuilder body = new StringBuilder(md.substring(0, md.indexOf("\n| cell |")).stripTrailing());
      body.append("\n\n");
      for (Path p : docPlots) {
        Path rel = resultsDoc.toAbsolutePath().getParent().relativize(p.toAbsolutePath());
        body.append("![").append(p.getFileName()).append("](").append(rel.toString().replace('\\', '/')).append(")\n");
      }
      ResultsDoc.replaceSection(resultsDoc, section, body.toString());
      System.out.println("updated section '" + section + "' of " + resultsDoc);
    }
    return 0;
  }

  /** The spec's cells that have run, in the spec's order (no run). */
  private static List<CellResult> reportable(SweepSpec spec, SweepRunner runner) {
    List<CellResult> out = new ArrayList<>();
    for (var c : spec.cells(spec.lrs(), spec.seeds())) {
      runner.result(c).ifPresent(out::add);
    }
    return out;
  }
}
