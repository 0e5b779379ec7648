package io.orthoslice.worker.cli;

import io.orthoslice.common.data.CorpusSource;
import io.orthoslice.common.data.Manifest;
import io.orthoslice.common.data.PrepareData;
import io.orthoslice.common.data.PrepareOptions;
import io.orthoslice.common.data.PrepareProgress;
import io.orthoslice.common.data.Split;
import io.orthoslice.common.data.Tokenizer;
import io.orthoslice.common.data.Tokenizers;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code orthoslice prepare-data}: text, JSONL or Parquet files into memory-mappable token shards. */
@Command(name = "prepare-data", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
      "Tokenize text files into token shards (uint16 when the vocabulary fits, else uint32) with a manifest.json.",
      "Inputs: .txt (one document per line), .gz (gzipped text), .jsonl, .jsonl.gz and .jsonl.zst (an object per"
          + " line, its --text-field a document), .parquet (the --text-field column, a document per row; e.g."
          + " FineWeb's shards), .lines.txt[.gz] (Lucene line docs: title<TAB>date<TAB>body).",
      "Every input streams (Parquet one row group at a time); the same documents in any format give the same shards.",
      "Each document goes to the validation split when a hash of its text falls under --val-fraction."
    })
final class PrepareDataCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Parameters(arity = "1..*", paramLabel = "INPUT", description = "Input files.")
  List<Path> inputs = new ArrayList<>();

  @Option(names = "--output", required = true, paramLabel = "DIR", description = "New directory for the shards (must not exist or be empty).")
  Path output;

  @Option(names = "--tokenizer", defaultValue = "byte", paramLabel = "SPEC",
      description = "One of " + Tokenizers.ALLOWED + " (a Hugging Face model directory). Default: ${DEFAULT-VALUE}.")
  String tokenizer;

  @Option(names = "--text-field", defaultValue = PrepareOptions.DEFAULT_TEXT_FIELD, paramLabel = "NAME",
      description = "The JSONL field or Parquet column that holds each document. Default: ${DEFAULT-VALUE}.")
  String textField;

  @Option(names = "--val-fraction", defaultValue = "0.005", description = "Share of documents held out for validation. Default: ${DEFAULT-VALUE}.")
  double valFraction;

  @Option(names = "--shard-tokens", defaultValue = "268435456", description = "Tokens per shard file at most. Default: ${DEFAULT-VALUE}.")
  long shardTokens;

  @Option(names = "--no-progress", description = "No progress bar (it is drawn on stderr only when that is a terminal and $CI is unset).")
  boolean noProgress;

  @Override
  public Integer call() throws Exception {
    PrepareOptions options = new PrepareOptions(valFraction, shardTokens, textField);
    List<CorpusSource> sources = new ArrayList<>();
    for (Path p : inputs) {
      sources.add(CorpusSource.file(p));
    }
    long totalBytes = sources.stream().mapToLong(CorpusSource::size).sum();
    Tokenizer tok = Tokenizers.load(tokenizer);
    try (PrepareProgress progress = !noProgress && PrepareProgress.stderrIsTerminal()
        ? PrepareProgress.bar(totalBytes, System.err) : PrepareProgress.quiet()) {
      Manifest m = PrepareData.prepare(sources, tok, output, options, progress);
      spec.commandLine().getOut().printf(Locale.ROOT,
          "prepared %s in %.1f s (%,.0f tokens/s, %.1f MiB/s of input): train %,d tokens (%,d documents),"
              + " validation %,d tokens (%,d documents), vocabulary %d, %s%n",
          output, progress.seconds(), progress.tokensPerSecond(), progress.bytes() / 1048576.0 / progress.seconds(),
          m.split(Split.TRAIN).tokens(), m.split(Split.TRAIN).documents(),
          m.split(Split.VALIDATION).tokens(), m.split(Split.VALIDATION).documents(), m.vocabSize(), m.dtype());
    } finally {
      if (tok instanceof AutoCloseable c) {
        c.close();
      }
    }
    return 0;
  }
}
