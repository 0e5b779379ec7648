package io.orthoslice.worker.cli;

import io.orthoslice.common.data.TokenDataset;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.data.DatasetWindows;
import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.train.ProgressReporter;
import io.orthoslice.common.config.RunOptions;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.common.method.TrainingMethods;
import io.orthoslice.common.train.TrainingRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code orthoslice compare}: the methods side by side on the same tokens and seed, as a table in
 * the shape of GaLore's Table 2 (validation perplexity and measured memory per method).
 */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Train every method on the same data and seed and print a Markdown table of validation"
        + " perplexity and measured memory (weights, optimizer state) per method.")
final class CompareCommand implements Callable<Integer> {

  /** label, method, projection, optimizer, base */
  static final List<String[]> METHODS = List.of(
      new String[] {"Full-rank AdamW", "full", "orthogonal", "adamw", "fp32"},
      new String[] {"GaLore (SVD)", "galore", "svd", "adamw", "fp32"},
      new String[] {"Adapter, Gaussian P", "adapter", "gaussian", "adamw", "fp32"},
      new String[] {"Adapter, Rademacher P", "adapter", "rademacher", "adamw", "fp32"},
      new String[] {"Adapter, orthogonal P", "adapter", "orthogonal", "adamw", "fp32"},
      new String[] {"LoRA", "lora", "orthogonal", "adamw", "fp32"},
      new String[] {"ReLoRA", "relora", "orthogonal", "adamw", "fp32"},
      new String[] {"LDAdam", "full", "orthogonal", "ldadam", "fp32"},
      new String[] {"Adapter, orthogonal P, INT8 base", "adapter", "orthogonal", "adamw", "int8"},
      new String[] {"Adapter, orthogonal P, NF4 base", "adapter", "orthogonal", "adamw", "nf4"},
      new String[] {"Two-sided adapter, orthogonal L, R", "adapter", "two-sided", "adamw", "fp32"},
      new String[] {"GaLore two-sided, orthogonal L, R", "galore", "two-sided", "adamw", "fp32"});

  @Mixin ModelOptions model;
  @Mixin DataOptions data;
  @Mixin OptimizationOptions optim;

  @Option(names = "--rank", defaultValue = "32", description = "Rank of every low-rank method. Default: ${DEFAULT-VALUE}.")
  int rank;

  @Option(names = "--merge-every", defaultValue = "200", description = "Merge/re-draw interval T. Default: ${DEFAULT-VALUE}.")
  int mergeEvery;

  @Option(names = "--state-on-redraw", defaultValue = "carry", description = "reset | carry | transport. Default: ${DEFAULT-VALUE}.")
  String statePolicy;

  @Option(names = "--output", defaultValue = "runs/compare", paramLabel = "DIR",
      description = "One run directory per method, and results.md. Default: ${DEFAULT-VALUE}.")
  Path output;

  @Option(names = "--eval-batches", defaultValue = "16", description = "Validation batches. Default: ${DEFAULT-VALUE}.")
  int evalBatches;

  @Option(names = "--methods", split = ",", paramLabel = "NAME",
      description = "Run only these rows, by name (comma-separated): ${COMPLETION-CANDIDATES}. Default: all.",
      completionCandidates = Names.class)
  List<String> only;

  @Option(names = "--two-sided-rank", defaultValue = "0", paramLabel = "R",
      description = "Rank per side of the two-sided rows; 0 picks the r whose r x r state matches, summed over the"
          + " projected matrices, the one-sided rows' state at --rank. Default: ${DEFAULT-VALUE}.")
  int twoSidedRank;

  /** The row names --methods takes: the label in lower case, non-alphanumerics as '-'. */
  static String slug(String label) {
    return label.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("^-|-$", "");
  }

  static final class Names extends ArrayList<String> {
    Names() {
      METHODS.forEach(m -> add(slug(m[0])));
    }
  }

  /**
   * The two-sided rank whose optimizer state (2 r^2 per matrix) matches, over all projected matrices,
   * the one-sided state at {@code rank} (2 r max(m, n) per matrix), capped by the smallest side.
   */
  static int matchedTwoSidedRank(LlamaConfig shape, int rank) {
    long oneSided = 0;
    int count = 0;
    int cap = Integer.MAX_VALUE;
    for (ParameterSpec p : shape.parameters()) {
      if (p.role() == ParameterSpec.Role.PROJECTED) {
        oneSided += (long) Math.max(p.rows(), p.cols()) * rank;
        count++;
        cap = Math.min(cap, Math.min(p.rows(), p.cols()));
      }
    }
    return (int) Math.max(1, Math.min(cap, Math.round(Math.sqrt((double) oneSided / count))));
  }

  @Override
  public Integer call() throws IOException {
    MethodSpec.StatePolicy policy = MethodSpec.parseEnum(MethodSpec.StatePolicy.class, "state-on-redraw", statePolicy);
    List<String[]> selected = select();
    List<String> rows = new ArrayList<>();
    try (TokenDataset ds = data.open()) {
      TrainConfig base = optim.toConfig(MethodSpec.FULL_RANK);
      LlamaConfig shape = model.resolve(ds.manifest().vocabSize(), base.seqLen());
      int twoSided = twoSidedRank > 0 ? twoSidedRank : matchedTwoSidedRank(shape, rank);
      Files.createDirectories(output);
      for (String[] m : selected) {
        boolean fullAdam = m[1].equals("full") && m[3].equals("adamw");
        boolean kronecker = m[2].equals(TrainingMethods.TWO_SIDED);
        MethodSpec spec = new MethodSpec(MethodSpec.parseEnum(MethodSpec.Method.class, "method", m[1]), m[2],
            fullAdam ? 0 : kronecker ? twoSided : rank, mergeEvery, policy,
            MethodSpec.parseEnum(MethodSpec.Optimizer.class, "optimizer", m[3]), m[4], 1.0);
        TrainConfig cfg = base.withMethod(spec);
        String label = kronecker ? m[0] + ", r = " + twoSided + " per side" : m[0];
        Path dir = output.resolve(slug(m[0]));
        RunOptions opts = new RunOptions(dir, 0, evalBatches, 0, 1, 50, false, null, "cpu");
        ProgressReporter progress = new ProgressReporter(cfg.steps(), cfg.tokensPerStep(), 50, false, System.out);
        progress.message("== " + label);
        TrainingRun.Summary s = TrainingRun.run(shape, cfg, opts, new DatasetWindows(ds, cfg.seqLen(), cfg.seed()),
            ds.manifest().bosId(), ds.manifest().eosId(), progress);
        rows.add(String.format(Locale.ROOT, "| %s | %.2f | %.1f | %.1f | %.1f | %,d | %.0f |", label,
            s.validationPerplexity(), s.memory().weightBytes() / 1048576.0, s.memory().optimizerBytes() / 1048576.0,
            s.memory().gradientBytes() / 1048576.0, s.memory().projectionBytes(), s.seconds()));
      }
      String table = String.join("\n", List.of(
          String.format(Locale.ROOT, "Preset %s (%,d parameters), %d steps x %,d tokens = %,d tokens, seq-len %d, rank %d,"
              + " merge every %d, state on re-draw %s, seed %d, lr %.1e -> %.1e.", model.preset, shape.parameterCount(),
              base.steps(), base.tokensPerStep(), base.steps() * base.tokensPerStep(), base.seqLen(), rank, mergeEvery,
              policy.name().toLowerCase(Locale.ROOT), base.seed(), base.lr(), base.minLr()),
          "",
          "| method | val. perplexity | weights MiB | optimizer state MiB | gradients MiB | persisted projection bytes | seconds |",
          "|---|---|---|---|---|---|---|"))
          + "\n" + String.join("\n", rows) + "\n";
      Files.writeString(output.resolve("results.md"), table);
      System.out.println(table);
    }
    return 0;
  }

  private List<String[]> select() {
    if (only == null || only.isEmpty()) {
      return METHODS;
    }
    List<String[]> out = new ArrayList<>();
    for (String name : only) {
      String[] row = METHODS.stream().filter(m -> slug(m[0]).equals(name.trim())).findFirst()
          .orElseThrow(() -> new IllegalArgumentException("--methods: unknown row '" + name + "'; allowed: "
              + String.join(", ", new Names())));
      out.add(row);
    }
    return out;
  }
}
