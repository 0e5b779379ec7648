package io.orthoslice.worker.sweep;

import io.orthoslice.common.config.RunConfig;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orthoslice.common.round.CommunicationCost;
import io.orthoslice.worker.launch.LaunchConfig;
import io.orthoslice.worker.launch.Launcher;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Runs a sweep cell by cell, each a real coordinator and K worker processes started by the
 * {@link Launcher} (the code path of {@code orthoslice launch}), and appends each finished cell to
 * {@code cells.jsonl}. A cell already there is not run again, so a stopped sweep resumes where it
 * was. With several learning rates and several seeds it runs in two phases, the protocol:
 * every lr on the first seed, then the other seeds at each configuration's best lr.
 *
 * <p>Over 300 lines because running, resuming and reading back a cell share its record of finished cells.
 */
public final class SweepRunner {

  private static final Map<String, Object> LEGACY = Map.of("eval_every", 1);
  private static final Pattern ROUND_LINE = Pattern.compile("^round (\\d+)/(\\d+):");

  private final SweepSpec spec;
  private final RunConfig base;
  private final Path dir;
  private final List<String> jvmArgs;
  private final PrintStream console;
  private final ObjectMapper json = new ObjectMapper();
  private final Map<String, CellResult> done = new LinkedHashMap<>();
  private List<String> workerArgs = List.of();

  public SweepRunner(SweepSpec spec, Path dir, List<String> jvmArgs, PrintStream console) throws IOException {
    this(spec, RunConfig.DEFAULTS, dir, jvmArgs, console);
  }

  /** Options every cell's workers get beside the run's own (a simulated link: --link-rate, --link-latency). */
  public SweepRunner workerArgs(List<String> args) {
    this.workerArgs = List.copyOf(args);
    return this;
  }

  /** A sweep whose cells start from {@code base}'s settings (a run.json), the axes and shared ones put in. */
  public SweepRunner(SweepSpec spec, RunConfig base, Path dir, List<String> jvmArgs, PrintStream console)
      throws IOException {
    this.base = base;
    this.spec = spec;
    this.dir = dir;
    this.jvmArgs = List.copyOf(jvmArgs);
    this.console = console;
    Files.createDirectories(dir);
    checkSharedSettings();
    for (CellResult r : readCells(dir.resolve("cells.jsonl"))) {
      done.put(r.cell().slug(), withCommunication(r));
    }
  }

  /**
   * A result line written before the communication figures existed gets them from its run's
   * summary.json when that is still there (the same computation as a new cell's).
   */
  private CellResult withCommunication(CellResult r) throws IOException {
    Path summary = Path.of(r.runDir()).resolve("coordinator").resolve("summary.json");
    if (!r.ok() || r.bytesPerToken() > 0 || !Files.isRegularFile(summary)) {
      return r;
    }
    return communication(r, json.readTree(summary.toFile()), spec.seqLen() * (long) spec.batchSize());
  }

  /**
   * The run's bytes per trained token and its reduction against synchronous data parallel
   * ({@link CommunicationCost}), over all its rounds: what a worker sent and fetched, for the tokens
   * it trained; data parallel with the run's parameter count (the fp32 weights' bytes / 4), workers
   * and tokens per step, fp32 gradients.
   */
  static CellResult communication(CellResult r, JsonNode summary, long tokensPerStep) {
    long moved = 0;
    long tokens = 0;
    long parameters = 0;
    int workers = r.cell().workers();
    for (JsonNode round : summary.get("round_results")) {
      long full = round.get("fullBroadcastBytes").asLong();
      long update = updateBytes(round);
      moved += round.get("uploadBytesPerWorker").asLong() + (update > 0 ? update : full);
      tokens += (long) tokensPerStep * localSteps(summary);
      parameters = full / Float.BYTES;
    }
    double ours = CommunicationCost.perToken(moved, 0, tokens);
    double dp = CommunicationCost.syncDataParallelPerToken(parameters, workers, Float.BYTES, tokensPerStep);
    return r.withCommunication(ours, CommunicationCost.reduction(ours, dp));
  }

  /** Runs what is missing and returns every result of this sweep's cells (old and new). */
  public List<CellResult> run() throws IOException, InterruptedException {
    List<SweepCell> first = spec.lrs().size() > 1 && spec.seeds().size() > 1
        ? spec.cells(spec.lrs(), List.of(spec.seeds().get(0)))
        : spec.cells(spec.lrs(), spec.seeds());
    List<SweepCell> planned = new ArrayList<>(first);
    boolean twoPhases = spec.lrs().size() > 1 && spec.seeds().size() > 1;
    // The second phase's cells are known only after the first; until then the bar counts them at the
    // average cost of a first-phase cell per remaining seed.
    long total = cost(first) + (twoPhases ? cost(first) / spec.lrs().size() * (spec.seeds().size() - 1) : 0);
    // On a terminal the bar redraws in place; in a log (nohup, CI) it prints a line every half minute.
    boolean tty = System.console() != null;
    try (ProgressBar bar = new ProgressBarBuilder().setTaskName("sweep").setInitialMax(total)
        .setStyle(ProgressBarStyle.ASCII).setUnit(" worker-steps", 1).setUpdateIntervalMillis(tty ? 2000 : 30_000)
        .setConsumer(tty ? new ConsoleProgressBarConsumer(console)
            : new DelegatingProgressBarConsumer(console::println))
        .startsFrom(cost(first.stream().filter(c -> done.containsKey(c.slug())).toList()), Duration.ZERO)
        .build()) {
      runAll(first, bar);
      if (twoPhases) {
        List<SweepCell> second = new ArrayList<>();
        for (SweepCell best : SweepReport.bestLr(results(first)).values()) {
          for (long seed : spec.seeds().subList(1, spec.seeds().size())) {
            second.add(best.withSeed(seed));
          }
        }
        bar.maxHint(cost(first) + cost(second));
        bar.stepBy(cost(second.stream().filter(c -> done.containsKey(c.slug())).toList()));
        runAll(second, bar);
        planned.addAll(second);
      }
    }
    return results(planned);
  }

  private List<CellResult> results(List<SweepCell> cells) {
    return cells.stream().map(c -> done.get(c.slug())).filter(r -> r != null).toList();
  }

  /** Worker-steps, the unit of the progress bar: a cell costs K x rounds x H. */
  private long cost(List<SweepCell> cells) {
    return cells.stream().mapToLong(c -> (long) c.workers() * spec.rounds() * spec.localSteps()).sum();
  }

  private void runAll(List<SweepCell> cells, ProgressBar bar) throws IOException, InterruptedException {
    for (SweepCell c : cells) {
      if (done.containsKey(c.slug())) {
        continue;
      }
      bar.setExtraMessage(" " + c.slug());
      long before = bar.getCurrent();
      CellResult r = runCell(c, rounds -> bar.stepTo(before + (long) c.workers() * rounds * spec.localSteps()));
      bar.stepTo(before + cost(List.of(c)));
      done.put(c.slug(), r);
      Files.writeString(dir.resolve("cells.jsonl"), json.writeValueAsString(r) + "\n", StandardCharsets.UTF_8,
          StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
  }

  /** One cell through the launcher; {@code roundsDone} hears each merged round. */
  private CellResult runCell(SweepCell c, Consumer<Integer> roundsDone) throws IOException, InterruptedException {
    Path runDir = dir.resolve("cells").resolve(c.slug());
    if (Files.exists(runDir)) {
      // A cell that did not finish (the sweep was stopped): its partial run is discarded.
      deleteTree(runDir);
    }
    Files.createDirectories(runDir);
    RunConfig run = spec.runConfig(base, c);
    Path runJson = runDir.resolve("run.json");
    run.write(runJson);
    List<String> coordinator = List.of("--config", runJson.toString());
    List<String> worker = new ArrayList<>(List.of("--tokenizer", run.tokenizer()));
    if (run.data() != null) {
      worker.addAll(List.of("--data", run.data()));
    }
    worker.addAll(workerArgs);
    List<Integer> gpus = spec.gpu() < 0 ? List.of() : java.util.Collections.nCopies(c.workers(), spec.gpu());
    long t0 = System.nanoTime();
    Launcher.Result r;
    try (PrintStream log = new PrintStream(new RoundLines(runDir, roundsDone), true, StandardCharsets.UTF_8)) {
      int threads = LaunchConfig.threadsPerProcess(spec.threads(), c.workers(), !gpus.isEmpty(),
          Runtime.getRuntime().availableProcessors());
      r = new Launcher(new LaunchConfig(c.workers(), runDir, coordinator, worker, gpus, threads, jvmArgs, -1),
          log).run();
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    Path summary = runDir.resolve("coordinator").resolve("summary.json");
    if (r.exitCode() != 0 || !Files.isRegularFile(summary)) {
      String why = r.progress().stream().filter(l -> l.startsWith("error")).findFirst()
          .orElse("coordinator exited with status " + r.exitCode());
      console.println("cell " + c.slug() + " failed: " + why + " (logs in " + runDir + ")");
      return new CellResult(c, "failed", why, Double.NaN, List.of(), 0, 0, seconds, runDir.toString());
    }
    JsonNode s = json.readTree(summary.toFile());
    List<Double> ppl = new ArrayList<>();
    double bytes = 0;
    for (JsonNode round : s.get("round_results")) {
      ppl.add(Math.exp(round.get("validationLoss").asDouble()));
      long broadcast = updateBytes(round) > 0 ? updateBytes(round) : round.get("fullBroadcastBytes").asLong();
      bytes += round.get("uploadBytesPerWorker").asLong() + broadcast;
    }
    // Checkpoints are not kept: a cell is re-run from its command, and a sweep holds hundreds.
    deleteTree(runDir.resolve("coordinator").resolve("checkpoints"));
    long tokens = (long) c.workers() * spec.rounds() * spec.localSteps() * spec.seqLen() * spec.batchSize();
    return communication(new CellResult(c, "ok", "", Math.exp(s.get("initial_validation_loss").asDouble()), ppl,
        tokens, ppl.isEmpty() ? 0 : bytes / ppl.size(), seconds, runDir.toString()), s,
        spec.seqLen() * (long) spec.batchSize());
  }

  /** The launcher's lines go to the cell's own log; round lines also move the progress bar. */
  private static final class RoundLines extends OutputStream {
    private final OutputStream log;
    private final Consumer<Integer> roundsDone;
    private final StringBuilder line = new StringBuilder();

    RoundLines(Path runDir, Consumer<Integer> roundsDone) throws IOException {
      Files.createDirectories(runDir);
      this.log = Files.newOutputStream(runDir.resolve("launch.log"));
      this.roundsDone = roundsDone;
    }

    @Override
    public void write(int b) throws IOException {
      log.write(b);
      if (b == '\n') {
        Matcher m = ROUND_LINE.matcher(line);
        if (m.find()) {
          roundsDone.accept(Integer.parseInt(m.group(1)));
        }
        line.setLength(0);
      } else {
        line.append((char) b);
      }
    }

    @Override
    public void close() throws IOException {
      log.close();
    }
  }

  private void checkSharedSettings() throws IOException {
    Path f = dir.resolve("sweep.json");
    Map<String, Object> mine = spec.sharedSettings();
    if (Files.isRegularFile(f)) {
      @SuppressWarnings("unchecked")
      Map<String, Object> theirs = json.readValue(f.toFile(), Map.class);
      for (Map.Entry<String, Object> e : mine.entrySet()) {
        // A setting an older sweep did not record had the one value that version knew.
        Object stored = theirs.containsKey(e.getKey()) ? theirs.get(e.getKey()) : LEGACY.get(e.getKey());
        if (!String.valueOf(e.getValue()).equals(String.valueOf(stored))) {
          throw new IllegalArgumentException("--output " + dir + " holds a sweep with " + e.getKey() + " "
              + stored + ", this one has " + e.getValue() + "; use the same setting to resume it,"
              + " or another --output");
        }
      }
    } else {
      json.writerWithDefaultPrettyPrinter().writeValue(f.toFile(), mine);
    }
  }

  /** Every result in a {@code cells.jsonl} (none when it does not exist). */
  public static List<CellResult> readCells(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      return List.of();
    }
    ObjectMapper json = new ObjectMapper();
    List<CellResult> out = new ArrayList<>();
    int n = 0;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      n++;
      if (line.isBlank()) {
        continue;
      }
      try {
        out.add(json.readValue(line, CellResult.class));
      } catch (IOException e) {
        throw new IllegalArgumentException(file + " line " + n + " is not a sweep cell: " + e.getMessage());
      }
    }
    return out;
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(q);
      }
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  /** The result of one cell of this sweep, if it has run. */
  public Optional<CellResult> result(SweepCell c) {
    return Optional.ofNullable(done.get(c.slug()));
  }

  /** The run's local steps: under "config" since summaries hold the run's record, at the top before. */
  private static long localSteps(JsonNode summary) {
    JsonNode n = summary.path("config").path("local_steps");
    return (n.isMissingNode() ? summary.path("local_steps") : n).asLong();
  }

  /** A round's update bytes; summaries written before protocol 7 call them factoredBroadcastBytes. */
  private static long updateBytes(JsonNode round) {
    JsonNode n = round.has("updateBroadcastBytes") ? round.get("updateBroadcastBytes") : round.path("factoredBroadcastBytes");
    return n.asLong();
  }
}
