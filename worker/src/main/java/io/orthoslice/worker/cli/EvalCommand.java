package io.orthoslice.worker.cli;

import ai.djl.ndarray.NDManager;
import io.orthoslice.common.checkpoint.Checkpoint;
import io.orthoslice.common.checkpoint.CheckpointStore;
import io.orthoslice.common.config.DeviceSpec;
import io.orthoslice.common.data.TokenDataset;
import io.orthoslice.common.model.Llama;
import io.orthoslice.common.train.DatasetWindows;
import io.orthoslice.common.train.Evaluator;
import io.orthoslice.common.train.Precision;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
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

  @Option(names = "--seq-len", defaultValue = "256", description = "Tokens per sequence. Default: ${DEFAULT-VALUE}.")
  int seqLen;

  @Option(names = "--batch-size", defaultValue = "8", description = "Sequences per batch. Default: ${DEFAULT-VALUE}.")
  int batchSize;

  @Option(names = "--batches", defaultValue = "16", description = "Validation batches. Default: ${DEFAULT-VALUE}.")
  int batches;

  @Option(names = "--dtype", defaultValue = "fp32", description = "fp32, fp64 or fp16. Default: ${DEFAULT-VALUE}.")
  String dtype;

  @Option(names = "--device", defaultValue = "cpu", description = "cpu, gpu or gpu:N. Default: ${DEFAULT-VALUE}.")
  String device;

  @Override
  public Integer call() throws Exception {
    if (!Files.isRegularFile(checkpoint.resolve(CheckpointStore.CONFIG))) {
      throw new IllegalArgumentException("checkpoint " + checkpoint + " has no config.json; give a checkpoint directory");
    }
    if (seqLen < 1 || batchSize < 1 || batches < 1) {
      throw new IllegalArgumentException("seq-len, batch-size and batches must be >= 1");
    }
    Precision precision = Precision.parse(dtype);
    try (TokenDataset ds = data.open();
        NDManager root = NDManager.newBaseManager(DeviceSpec.parse(device))) {
      Checkpoint ckpt = new CheckpointStore(checkpoint.getParent(), 1).load(checkpoint, root, precision.master());
      if (ckpt.config().vocabSize() != ds.manifest().vocabSize()) {
        throw new IllegalArgumentException("checkpoint vocab_size " + ckpt.config().vocabSize()
            + " does not match the dataset's tokenizer vocabulary " + ds.manifest().vocabSize());
      }
      List<long[]> val = new DatasetWindows(ds, seqLen, 0).validationBatches(batches, batchSize);
      double loss = Evaluator.meanLoss(new Llama(ckpt.config()),
          scope -> Evaluator.plain(ckpt.weights(), precision.compute(), scope), val, batchSize,
          precision.compute(), root);
      System.out.printf(Locale.ROOT, "validation loss %.4f perplexity %.2f (%d batches x %d x %d tokens)%n",
          loss, Math.exp(loss), val.size(), batchSize, seqLen);
      return 0;
    }
  }
}
