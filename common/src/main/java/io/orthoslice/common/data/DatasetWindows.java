package io.orthoslice.common.data;

import java.util.ArrayList;
import java.util.List;

/** {@link TokenWindows} over a prepared, memory-mapped dataset: shuffled training windows, file-order validation. */
public final class DatasetWindows implements TokenWindows {

  private final TokenDataset dataset;
  private final WindowSampler sampler;
  private final int seqLen;

  public DatasetWindows(TokenDataset dataset, int seqLen, long seed) {
    this.dataset = dataset;
    this.seqLen = seqLen;
    this.sampler = WindowSampler.forSplit(dataset, Split.TRAIN, seqLen, seed);
    if (sampler.numWindows() < 1) {
      throw new IllegalArgumentException("dataset " + dataset.directory() + " has fewer than seq-len+1 = "
          + (seqLen + 1) + " training tokens");
    }
  }

  @Override
  public long[] trainBatch(long position, int count) {
    return sampler.batch(dataset, Split.TRAIN, position, count);
  }

  @Override
  public List<long[]> validationBatches(int batches, int batchSize) {
    long available = ValidationWindows.count(dataset, seqLen);
    int n = (int) Math.min(batches, available / batchSize);
    if (n < 1) {
      throw new IllegalArgumentException("validation split of " + dataset.directory() + " has " + available
          + " windows of seq-len+1 tokens, fewer than one batch of " + batchSize);
    }
    List<long[]> out = new ArrayList<>(n);
    for (int b = 0; b < n; b++) {
      out.add(ValidationWindows.read(dataset, seqLen, (long) b * batchSize, batchSize));
    }
    return out;
  }

  @Override
  public long trainWindows() {
    return sampler.numWindows();
  }

  @Override
  public String datasetId() {
    return dataset.id();
  }
}
