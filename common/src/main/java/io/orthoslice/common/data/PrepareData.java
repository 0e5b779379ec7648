package io.orthoslice.common.data;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tokenizes documents into train and validation shards plus a {@code manifest.json}.
 *
 * <p>Each document is encoded and followed by EOS. Documents stream through one at a time (a
 * Parquet file one row group at a time), so a corpus larger than memory works, and the shards
 * depend only on the documents' texts and order, not on the format that carried them. The split depends only on a document's text (see {@link
 * #SPLIT_RULE}), so it is stable under reordering and adding inputs. The output appears atomically:
 * shards are written and fsynced in a temporary sibling directory that is renamed into place, so
 * readers see either nothing or a complete dataset.
 *
 * <p>Over 300 lines because it is one streaming pipeline (read, tokenize, split, write shards, manifest) whose
 * stages share its counters and files.
 */
public final class PrepareData {

  public static final String MANIFEST = "manifest.json";

  public static final String SPLIT_RULE =
      "validation iff the first 8 bytes of SHA-256(UTF-8 text), read as an unsigned big-endian"
          + " integer, are < valFraction * 2^64";

  private static final Logger LOG = LoggerFactory.getLogger(PrepareData.class);
  // Unknown fields are tolerated on read so that a newer manifest fails on its version, by name.
  static final ObjectMapper JSON =
      new ObjectMapper()
          .enable(SerializationFeature.INDENT_OUTPUT)
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private PrepareData() {}

  /** A complete dataset in a temporary directory, not yet visible under its final name. */
  record Staged(Path dir, Manifest manifest) {}

  /**
   * Prepares {@code sources} into {@code out}, which must not exist or be empty; the shards are
   * uint16 when the vocabulary fits, else uint32.
   */
  public static Manifest prepare(
      List<CorpusSource> sources, Tokenizer tokenizer, Path out, PrepareOptions options)
      throws IOException {
    return prepare(sources, tokenizer, out, options, PrepareProgress.quiet());
  }

  /**
   * As {@link #prepare(List, Tokenizer, Path, PrepareOptions)}, counting into {@code progress},
   * which is closed (its bar ended) once every input is read; its counts stay readable.
   */
  public static Manifest prepare(
      List<CorpusSource> sources,
      Tokenizer tokenizer,
      Path out,
      PrepareOptions options,
      PrepareProgress progress)
      throws IOException {
    return prepare(
        sources, tokenizer, out, options, TokenDtype.forVocab(tokenizer.vocabSize()), progress);
  }

  /** As {@link #prepare(List, Tokenizer, Path, PrepareOptions)} with a chosen dtype (tests). */
  static Manifest prepare(
      List<CorpusSource> sources,
      Tokenizer tokenizer,
      Path out,
      PrepareOptions options,
      TokenDtype dtype)
      throws IOException {
    return prepare(sources, tokenizer, out, options, dtype, PrepareProgress.quiet());
  }

  private static Manifest prepare(
      List<CorpusSource> sources,
      Tokenizer tokenizer,
      Path out,
      PrepareOptions options,
      TokenDtype dtype,
      PrepareProgress progress)
      throws IOException {
    requireFreshOutput(out);
    Staged staged = stage(sources, tokenizer, out, options, dtype, progress);
    if (!publish(staged.dir(), out)) {
      throw new IllegalStateException(
          "output directory " + out + " was filled by another process while preparing");
    }
    return staged.manifest();
  }

  static void requireFreshOutput(Path out) throws IOException {
    if (Files.exists(out)) {
      boolean empty;
      if (Files.isDirectory(out)) {
        try (Stream<Path> entries = Files.list(out)) {
          empty = entries.findAny().isEmpty();
        }
      } else {
        empty = false;
      }
      if (!empty) {
        throw new IllegalArgumentException(
            "output directory "
                + out
                + " already exists and is not empty; remove it or choose another");
      }
    }
  }

  /** Writes the whole dataset into a new hidden sibling of {@code out}. */
  static Staged stage(
      List<CorpusSource> sources,
      Tokenizer tokenizer,
      Path out,
      PrepareOptions options,
      TokenDtype dtype)
      throws IOException {
    return stage(sources, tokenizer, out, options, dtype, PrepareProgress.quiet());
  }

  private static Staged stage(
      List<CorpusSource> sources,
      Tokenizer tokenizer,
      Path out,
      PrepareOptions options,
      TokenDtype dtype,
      PrepareProgress progress)
      throws IOException {
    if (sources.isEmpty()) {
      throw new IllegalArgumentException(
          "no inputs given; allowed: " + CorpusSource.ALLOWED_EXTENSIONS);
    }
    if (dtype == TokenDtype.UINT16 && tokenizer.vocabSize() > 65536) {
      throw new IllegalArgumentException(
          "vocabSize " + tokenizer.vocabSize() + " does not fit uint16; uint32 is required");
    }
    long started = System.nanoTime();
    Path parent = out.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    Path dir = parent.resolve("." + out.getFileName() + ".tmp-" + UUID.randomUUID());
    Files.createDirectory(dir);
    try (ShardWriter train = new ShardWriter(dir, Split.TRAIN, dtype, options.shardTokens());
        ShardWriter val = new ShardWriter(dir, Split.VALIDATION, dtype, options.shardTokens())) {
      DocumentRouter router =
          new DocumentRouter(tokenizer, train, val, options.valFraction(), progress);
      for (CorpusSource source : sources) {
        DocumentReader.read(source, options.textField(), router::accept, progress::bytesRead);
      }
      // The bar ends here, so that the lines logged below do not land inside it.
      progress.close();
      if (router.trainDocuments + router.valDocuments == 0) {
        throw new IllegalArgumentException(
            "no documents in "
                + sources.stream().map(CorpusSource::name).toList()
                + "; the inputs need at least one non-blank line");
      }
      Manifest manifest =
          new Manifest(
              Manifest.FORMAT_VERSION,
              tokenizer.id(),
              tokenizer.vocabSize(),
              tokenizer.eosId(),
              tokenizer.bosId(),
              dtype.label(),
              options.valFraction(),
              SPLIT_RULE,
              sources.stream().map(CorpusSource::name).toList(),
              train.finish(router.trainDocuments),
              val.finish(router.valDocuments));
      writeDurably(dir.resolve(MANIFEST), JSON.writeValueAsBytes(manifest));
      fsyncDirectory(dir);
      if (manifest.validation().tokens() == 0 && options.valFraction() > 0) {
        LOG.warn("validation split of {} is empty (valFraction {})", out, options.valFraction());
      }
      LOG.info(
          "tokenized {} + {} documents into {} train + {} validation tokens in {} ms",
          router.trainDocuments,
          router.valDocuments,
          manifest.train().tokens(),
          manifest.validation().tokens(),
          (System.nanoTime() - started) / 1_000_000);
      return new Staged(dir, manifest);
    } catch (IOException | RuntimeException e) {
      deleteTree(dir);
      throw e;
    }
  }

  /**
   * Renames {@code staged} to {@code out}. Returns false, and deletes {@code staged}, when another
   * writer got there first (the rename of a directory onto a non-empty one fails atomically).
   */
  static boolean publish(Path staged, Path out) throws IOException {
    try {
      Files.move(staged, out, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      deleteTree(staged);
      if (Files.isRegularFile(out.resolve(MANIFEST))) {
        return false;
      }
      if (Files.exists(out)) {
        throw new IllegalArgumentException(
            "output directory " + out + " already exists and is not a prepared dataset; remove it");
      }
      throw e;
    }
    fsyncDirectory(out.toAbsolutePath().getParent());
    return true;
  }

  /** Unsigned threshold on the 64-bit document hash below which a document is validation. */
  static long valThreshold(double valFraction) {
    return new BigDecimal(valFraction)
        .multiply(new BigDecimal(BigInteger.ONE.shiftLeft(64)))
        .toBigInteger()
        .longValue();
  }

  private static void writeDurably(Path file, byte[] bytes) throws IOException {
    try (FileChannel ch =
        FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ByteBuffer buf = ByteBuffer.wrap(bytes);
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
      ch.force(true);
    }
  }

  private static void fsyncDirectory(Path dir) {
    // Makes the new names durable; some platforms cannot open a directory, and there it is moot.
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      LOG.debug("cannot fsync directory {}: {}", dir, e.toString());
    }
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /** Encodes each document, appends EOS and sends it to its split. */
  private static final class DocumentRouter {
    private final Tokenizer tokenizer;
    private final ShardWriter train;
    private final ShardWriter val;
    private final long threshold;
    private final MessageDigest sha256;
    private final PrepareProgress progress;
    long trainDocuments;
    long valDocuments;

    DocumentRouter(
        Tokenizer tokenizer,
        ShardWriter train,
        ShardWriter val,
        double valFraction,
        PrepareProgress progress) {
      this.tokenizer = tokenizer;
      this.progress = progress;
      this.train = train;
      this.val = val;
      this.threshold = valThreshold(valFraction);
      try {
        this.sha256 = MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("SHA-256 is required by every Java platform", e);
      }
    }

    void accept(String document) throws IOException {
      byte[] hash = sha256.digest(document.getBytes(StandardCharsets.UTF_8));
      long key = ByteBuffer.wrap(hash, 0, 8).getLong();
      boolean validation = Long.compareUnsigned(key, threshold) < 0;
      int[] ids = tokenizer.encode(document);
      for (int id : ids) {
        if (id < 0 || id >= tokenizer.vocabSize()) {
          throw new IllegalStateException(
              "tokenizer "
                  + tokenizer.id()
                  + " produced id "
                  + id
                  + " outside [0, "
                  + tokenizer.vocabSize()
                  + ")");
        }
      }
      ShardWriter out = validation ? val : train;
      out.write(ids);
      out.write(tokenizer.eosId());
      if (validation) {
        valDocuments++;
      } else {
        trainDocuments++;
      }
      progress.document(ids.length + 1L);
    }
  }
}
