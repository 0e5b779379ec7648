package io.orthoslice.worker.cli;

import io.orthoslice.common.data.DefaultCorpus;
import io.orthoslice.common.data.TokenDataset;
import io.orthoslice.common.data.Tokenizer;
import io.orthoslice.common.data.Tokenizers;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Which tokens to train on: a prepared dataset, or the embedded Europarl corpus (prepared on first use). */
final class DataOptions {

  @Option(names = "--data", paramLabel = "DIR",
      description = "A dataset made by 'orthoslice prepare-data'. Default: the embedded Europarl sample,"
          + " tokenized into $ORTHOSLICE_HOME (or ~/.cache/orthoslice) on first use.")
  Path data;

  @Option(names = "--tokenizer", defaultValue = "byte", paramLabel = "SPEC",
      description = "byte (default) or a Hugging Face tokenizer.json (file or directory); used with the default corpus.")
  String tokenizer;

  /** Opens the dataset; the caller closes it. */
  TokenDataset open() {
    Path dir = data;
    try {
      if (dir == null) {
        Tokenizer tok = Tokenizers.load(tokenizer);
        try {
          dir = DefaultCorpus.ensurePrepared(DefaultCorpus.defaultCacheRoot(), tok);
        } finally {
          if (tok instanceof AutoCloseable c) {
            close(c);
          }
        }
      } else if (!Files.isDirectory(dir)) {
        throw new IllegalArgumentException("--data " + dir + " is not a directory made by 'orthoslice prepare-data'");
      }
      return TokenDataset.open(dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open dataset " + dir + ": " + e.getMessage(), e);
    }
  }

  private static void close(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception e) {
      throw new IllegalStateException("closing the tokenizer failed: " + e.getMessage(), e);
    }
  }
}
