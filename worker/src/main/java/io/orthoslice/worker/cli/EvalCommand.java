package io.orthoslice.worker.cli;

import ai.djl.ndarray.NDManager;
import io.orthoslice.common.checkpoint.Checkpoint;
import io.orthoslice.common.checkpoint.CheckpointStore;
import io.orthoslice.common.config.DeviceSpec;
import io.orthoslice.common.data.TokenDataset;
import io.orthoslice.common.model.Llama;
import io.orthoslice.common.data.DatasetWindows;
import io.orthoslice.common.train.Evaluator;
import io.orthoslice.common.config.Precision;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code orthoslice eval}: validation perplexity of a checkpoint (ours or a Hugging Face Llama). */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Print the validation loss and perplexity of a checkpoint on a dataset's validation split.")
final class EvalCommand implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "CHECKPOINT", description = "A checkpoint directory (config.json + model.safetensors).")
  Path checkpoint;

  @Mixin DataOptions data;

  @Option(names = "--seq-len", description = "Tokens per sequence. Default: the run's (from the checkpoint), else 256.")
  Integer seqLen;

  @Option(names = "--batch-size", description = "Sequences per batch. Default: the run's, else 8.")
  Integer batchSize;

  @Option(names = "--batches", description = "Validation batches. Default: the run's, else 16.")
  Integer batches;

  @Option(names = "--dtype", defaultValue = "fp32", description = "fp32, fp64 or fp16. Default: ${DEFAULT-VALUE}.")
  String dtype;

  @Mixin DeviceOptions where;

  @Override
  public Integer call() throws Exception {
    String device = where.apply();
    if (!Files.isRegularFile(checkpoint.resolve(CheckpointStore.CONFIG))) {
      throw new IllegalArgumentException("checkpoint " + checkpoint + " has no config.json; give a checkpoint directory");
    }
    for (Integer v : new Integer[] {seqLen, batchSize, batches}) {
      if (v != null && v < 1) {
        throw new IllegalArgumentException("seq-len, batch-size and batches must be >= 1");
      }
    }
    Precision precision = Precision.parse(dtype);
    try (TokenDataset ds = data.open();
        NDManager root = NDManager.newBaseManager(DeviceSpec.parse(device))) {
      Checkpoint ckpt = new CheckpointStore(checkpoint.getParent(), 1).load(checkpoint, root, precision.master());
      // By default the windows the run itself validated on, when its checkpoint records them.
      Map<String, Object> recorded = ckpt.trainerState() == null ? Map.of() : ckpt.trainerState().extra();
      int seqLen = pick(this.seqLen, recorded, "seq_len", 256);
      int batchSize = pick(this.batchSize, recorded, "batch_size", 8);
      int batches = pick(this.batches, recorded, "eval_batches", 16);
      String whose = recorded.containsKey("eval_batches") && this.seqLen == null && this.batchSize == null
          && this.batches == null ? "the run's validation windows" : "validation windows";
      if (ckpt.config().vocabSize() != ds.manifest().vocabSize()) {
        throw new IllegalArgumentException("checkpoint vocab_size " + ckpt.config().vocabSize()
            + " does not match the dataset's tokenizer vocabulary " + ds.manifest().vocabSize());
      }
      List<long[]> val = new DatasetWindows(ds, seqLen, 0).validationBatches(batches, batchSize);
      double loss = Evaluator.meanLoss(new Llama(ckpt.config()),
          scope -> Evaluator.plain(ckpt.weights(), precision.compute(), scope), val, batchSize,
          precision.compute(), root);
      System.out.printf(Locale.ROOT, "validation loss %.4f perplexity %.2f (%s: %d batches x %d x %d tokens)%n",
          loss, Math.exp(loss), whose, val.size(), batchSize, seqLen);
      return 0;
    }
  }

  private static int pick(Integer given, Map<String, Object> recorded, String key, int fallback) {
    if (given != null) {
      return given;
    }
    return recorded.get(key) instanceof Number n ? n.intValue() : fallback;
  }
}
