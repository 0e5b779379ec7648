package io.orthoslice.common.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The checkpoints of one run, each a directory {@code <root>/<name>/} that Hugging Face
 * {@code LlamaForCausalLM.from_pretrained} loads as is:
 *
 * <pre>
 *   config.json            LlamaConfig.toHuggingFace(bos, eos)
 *   model.safetensors      weights under Hugging Face names
 *   optimizer.safetensors  optimizer state (absent when there is none)
 *   trainer_state.json     TrainerState (absent for a model-only export)
 *   checksums.json         SHA-256 of each file above
 * </pre>
 *
 * <p>Nothing checkpointed is lost: a checkpoint appears all at once (built under a temporary name,
 * fsynced, renamed), is never overwritten, and only complete checkpoints of ours (trainer state and
 * checksums present) are ever pruned, never the one just written. One process writes a root at a
 * time; leftovers of an interrupted save are removed by the next save.
 */
public final class CheckpointStore {

  private static final Logger LOG = LoggerFactory.getLogger(CheckpointStore.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

  public static final String CONFIG = "config.json";
  public static final String MODEL = "model.safetensors";
  public static final String MODEL_INDEX = "model.safetensors.index.json";
  public static final String OPTIMIZER = "optimizer.safetensors";
  public static final String TRAINER_STATE = "trainer_state.json";
  public static final String CHECKSUMS = Checksums.FILE;

  private final Path root;
  private final int keepLast;

  /**
   * @param root directory holding the checkpoints (created on the first save)
   * @param keepLast how many of the newest checkpoints (by step) survive a save
   */
  public CheckpointStore(Path root, int keepLast) {
    if (root == null) {
      throw new IllegalArgumentException("root must not be null");
    }
    if (keepLast < 1) {
      throw new IllegalArgumentException("keepLast must be >= 1, got " + keepLast);
    }
    this.root = root;
    this.keepLast = keepLast;
  }
  /** The directory the checkpoints live in. */
  public Path directory() {
    return root;
  }


  public Path root() {
    return root;
  }

  public int keepLast() {
    return keepLast;
  }

  /** The conventional name of the checkpoint after {@code step} steps, {@code step-00000120}. */
  public static String stepName(long step) {
    return String.format(Locale.ROOT, "step-%08d", step);
  }

  /**
   * Writes {@code ckpt} as {@code <root>/<name>/}, atomically, then prunes older checkpoints down to
   * {@link #keepLast}. A name that already exists is a FileAlreadyExistsException.
   *
   * @return the checkpoint directory
   */
  public Path save(String name, Checkpoint ckpt) throws IOException {
    if (name == null || !NAME.matcher(name).matches() || AtomicFiles.isLeftover(Path.of(name))) {
      throw new IllegalArgumentException("checkpoint name must match " + NAME + " without "
          + AtomicFiles.TMP_MARKER + " or " + AtomicFiles.DELETING_MARKER + ", got '" + name + "'");
    }
    requireSavable(ckpt);
    removeLeftovers();
    byte[] config = JSON.writerWithDefaultPrettyPrinter()
        .writeValueAsBytes(ckpt.config().toHuggingFace(ckpt.bosTokenId(), ckpt.eosTokenId()));
    Path dir;
    try {
      dir = AtomicFiles.commitDirectory(root, name, tmp -> {
        Checksums sums = new Checksums();
        sums.write(tmp, CONFIG, config);
        sums.write(tmp, MODEL, out -> Safetensors.write(out, ckpt.weights(), Map.of()));
        if (!ckpt.optimizerState().isEmpty()) {
          sums.write(tmp, OPTIMIZER, out -> Safetensors.write(out, ckpt.optimizerState(), Map.of()));
        }
        if (ckpt.trainerState() != null) {
          sums.write(tmp, TRAINER_STATE, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(ckpt.trainerState().toJson()));
        }
        sums.writeManifest(tmp);
      });
    } catch (java.nio.file.FileAlreadyExistsException e) {
      throw e; // the documented refusal to overwrite, not a failure of the directory
    } catch (IOException e) {
      // NIO's messages are often a bare path, a full disk's ("No space left on device") names none: say both.
      Optional<Path> kept = latest();
      throw new IOException("writing checkpoint " + root.resolve(name) + " failed (" + e.getClass().getSimpleName()
          + ": " + e.getMessage() + "); " + kept.map(k -> "the last good checkpoint " + k + " is intact")
          .orElse("no earlier checkpoint was there") + "; fix the directory (space, permissions) and rerun with"
          + " --resume", e);
    }
    LOG.info("saved checkpoint {}", dir);
    if (ckpt.trainerState() != null) {
      prune(dir);
    }
    return dir;
  }

  /** The complete checkpoint with the highest step, if any. */
  public Optional<Path> latest() throws IOException {
    List<Path> all = list();
    return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
  }

  /**
   * Complete checkpoints of ours (trainer state and checksums present, no temporary name), oldest
   * step first. A trainer state that cannot be read is an IOException rather than a silent skip,
   * which would resume from an older checkpoint.
   */
  public List<Path> list() throws IOException {
    if (!Files.isDirectory(root)) {
      return List.of();
    }
    List<Path> dirs;
    try (Stream<Path> s = Files.list(root)) {
      dirs = s.filter(p -> Files.isDirectory(p) && !AtomicFiles.isLeftover(p)
          && Files.isRegularFile(p.resolve(TRAINER_STATE)) && Files.isRegularFile(p.resolve(CHECKSUMS))).toList();
    }
    Map<Path, Long> steps = new LinkedHashMap<>();
    for (Path d : dirs) {
      steps.put(d, stepOf(d));
    }
    List<Path> sorted = new ArrayList<>(dirs);
    sorted.sort(Comparator.comparing((Path p) -> steps.get(p)).thenComparing(p -> p.getFileName().toString()));
    return sorted;
  }

  /**
   * Loads a checkpoint directory of ours or a plain Hugging Face Llama directory, verifying
   * {@code checksums.json} when present. Arrays are owned by {@code manager}; a failed load leaves
   * nothing allocated there.
   *
   * @param floatType the type floating weights are loaded as (FLOAT16/32/64), or null to keep the
   *     stored type (BF16 arrives as FLOAT32); optimizer state always keeps its stored type so that
   *     a resume is exact
   */
  public Checkpoint load(Path dir, NDManager manager, DataType floatType) throws IOException {
    return CheckpointReader.read(dir, manager, floatType);
  }

  /** Removes what interrupted saves and prunes left behind; returns how many entries. */
  public int removeLeftovers() throws IOException {
    if (!Files.isDirectory(root)) {
      return 0;
    }
    List<Path> leftovers;
    try (Stream<Path> s = Files.list(root)) {
      leftovers = s.filter(AtomicFiles::isLeftover).toList();
    }
    for (Path p : leftovers) {
      LOG.info("removing {} left by an interrupted save", p);
      AtomicFiles.deleteTree(p);
    }
    return leftovers.size();
  }

  private void prune(Path justWritten) throws IOException {
    List<Path> all = list();
    for (int i = 0; i < all.size() - keepLast; i++) {
      Path old = all.get(i);
      if (!old.getFileName().equals(justWritten.getFileName())) {
        LOG.info("removing checkpoint {} (keeping the newest {})", old, keepLast);
        AtomicFiles.removeDirectory(old);
      }
    }
  }

  private static long stepOf(Path dir) throws IOException {
    Path file = dir.resolve(TRAINER_STATE);
    try {
      @SuppressWarnings("unchecked")
      Map<String, Object> m = JSON.readValue(file.toFile(), Map.class);
      return TrainerState.fromJson(m).step();
    } catch (IOException | IllegalArgumentException | ClassCastException e) {
      throw new IOException(file + " cannot be read (" + e.getMessage() + "); repair or move " + dir
          + " before saving or resuming here", e);
    }
  }

  /** What Hugging Face must find: every parameter of the config with its shape, and nothing else. */
  private static void requireSavable(Checkpoint ckpt) {
    Map<String, Shape> shapes = new LinkedHashMap<>();
    for (Map.Entry<String, NDArray> e : ckpt.weights().entrySet()) {
      DataType t = e.getValue().getDataType();
      if (!t.isFloating() || t == DataType.BFLOAT16) {
        throw new IllegalArgumentException("weight '" + e.getKey() + "' has type " + t
            + "; weights must be float16, float32 or float64");
      }
      shapes.put(e.getKey(), e.getValue().getShape());
    }
    String problems = ExpectedParameters.problems(ckpt.config(), shapes, false);
    if (problems != null) {
      throw new IllegalArgumentException("weights do not match the model config: " + problems);
    }
  }
}
