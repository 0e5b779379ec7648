package io.orthoslice.worker.cli;

import io.orthoslice.common.data.CorpusSource;
import io.orthoslice.common.data.Manifest;
import io.orthoslice.common.data.PrepareData;
import io.orthoslice.common.data.PrepareOptions;
import io.orthoslice.common.data.Split;
import io.orthoslice.common.data.Tokenizer;
import io.orthoslice.common.data.Tokenizers;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code orthoslice prepare-data}: text, .gz or JSONL files into memory-mappable token shards. */
@Command(name = "prepare-data", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
      "Tokenize text files into token shards (uint16 when the vocabulary fits, else uint32) with a manifest.json.",
      "Inputs: .txt (one document per line), .gz (gzipped text), .jsonl / .jsonl.gz (a \"text\" field per line),"
          + " .lines.txt[.gz] (Lucene line docs: title<TAB>date<TAB>body).",
      "Each document goes to the validation split when a hash of its text falls under --val-fraction."
    })
final class PrepareDataCommand implements Callable<Integer> {

  @Parameters(arity = "1..*", paramLabel = "INPUT", description = "Input files.")
  List<Path> inputs = new ArrayList<>();

  @Option(names = "--output", required = true, paramLabel = "DIR", description = "New directory for the shards (must not exist or be empty).")
  Path output;

  @Option(names = "--tokenizer", defaultValue = "byte", paramLabel = "SPEC",
      description = "byte (default) or a Hugging Face tokenizer.json (file or directory).")
  String tokenizer;

  @Option(names = "--val-fraction", defaultValue = "0.005", description = "Share of documents held out for validation. Default: ${DEFAULT-VALUE}.")
  double valFraction;

  @Option(names = "--shard-tokens", defaultValue = "268435456", description = "Tokens per shard file at most. Default: ${DEFAULT-VALUE}.")
  long shardTokens;

  @Override
  public Integer call() throws Exception {
    PrepareOptions options = new PrepareOptions(valFraction, shardTokens);
    List<CorpusSource> sources = new ArrayList<>();
    for (Path p : inputs) {
      sources.add(CorpusSource.file(p));
    }
    Tokenizer tok = Tokenizers.load(tokenizer);
    try {
      long start = System.nanoTime();
      Manifest m = PrepareData.prepare(sources, tok, output, options);
      System.out.printf(java.util.Locale.ROOT,
          "prepared %s in %.1f s: train %,d tokens (%,d documents), validation %,d tokens (%,d documents),"
              + " vocabulary %d, %s%n",
          output, (System.nanoTime() - start) / 1e9, m.split(Split.TRAIN).tokens(), m.split(Split.TRAIN).documents(),
          m.split(Split.VALIDATION).tokens(), m.split(Split.VALIDATION).documents(), m.vocabSize(), m.dtype());
    } finally {
      if (tok instanceof AutoCloseable c) {
        c.close();
      }
    }
    return 0;
  }
}
