package io.orthoslice.common.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WindowSamplerTest {

  private static long[] order(long size, long key) {
    FeistelPermutation p = new FeistelPermutation(size, key);
    long[] out = new long[(int) size];
    for (int i = 0; i < size; i++) {
      out[i] = p.apply(i);
    }
    return out;
  }

  @Test
  void feistelPermutationHitsEveryIndexExactlyOnce() {
    long[] sizes = {
      1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 127, 128, 1000, 1024, 4097, 65536,
      100_003
    };
    for (long size : sizes) {
      for (long key : new long[] {0, 1, -1, 0x5DEECE66DL}) {
        boolean[] seen = new boolean[(int) size];
        for (long v : order(size, key)) {
          assertTrue(v >= 0 && v < size, "size " + size + " value " + v);
          assertFalse(seen[(int) v], "size " + size + " key " + key + " repeats " + v);
          seen[(int) v] = true;
        }
      }
    }
  }

  @Test
  void everyWindowIsVisitedOncePerEpochInEachOfSeveralEpochs() {
    for (long tokens : new long[] {2, 3, 4, 9, 17, 1025, 10_001}) {
      WindowSampler s = new WindowSampler(tokens, 1, 42);
      long n = s.numWindows();
      assertEquals(tokens - 1, n);
      for (long epoch = 0; epoch < 3; epoch++) {
        boolean[] seen = new boolean[(int) n];
        for (long i = 0; i < n; i++) {
          int w = (int) s.windowAt(epoch * n + i);
          assertFalse(seen[w], "tokens " + tokens + " epoch " + epoch + " repeats window " + w);
          seen[w] = true;
        }
      }
    }
  }

  @Test
  void sameSeedGivesSameOrderAndDifferentSeedsOrEpochsDiffer() {
    WindowSampler a = new WindowSampler(1_000_001, 1000, 7); // 1000 windows
    WindowSampler b = new WindowSampler(1_000_001, 1000, 7);
    WindowSampler c = new WindowSampler(1_000_001, 1000, 8);
    long[] epoch0 = IntStream.range(0, 1000).mapToLong(a::windowAt).toArray();
    long[] epoch0Again = IntStream.range(0, 1000).mapToLong(b::windowAt).toArray();
    long[] epoch1 = IntStream.range(1000, 2000).mapToLong(a::windowAt).toArray();
    long[] otherSeed = IntStream.range(0, 1000).mapToLong(c::windowAt).toArray();
    assertArrayEquals(epoch0, epoch0Again);
    assertTrue(agreements(epoch0, epoch1) < 10, "epochs agree at " + agreements(epoch0, epoch1));
    assertTrue(
        agreements(epoch0, otherSeed) < 10, "seeds agree at " + agreements(epoch0, otherSeed));
    assertTrue(
        agreements(epoch0, IntStream.range(0, 1000).asLongStream().toArray()) < 10,
        "near identity");
  }

  /** Pins the order, since changing the permutation would silently change resumed runs' data. */
  @Test
  void orderIsPinned() {
    WindowSampler small = new WindowSampler(101, 10, 1234); // 10 windows
    assertArrayEquals(
        new long[] {8, 0, 1, 9, 2, 5, 3, 6, 7, 4},
        IntStream.range(0, 10).mapToLong(small::windowAt).toArray());
    WindowSampler huge = new WindowSampler(1_000_000_000L * 1024 + 1, 1024, 99); // 10^9 windows
    assertEquals(1_000_000_000L, huge.numWindows());
    assertEquals(223_652_707L, huge.windowAt(0));
    assertEquals(347_329_268L, huge.windowAt(123_456_789L));
    assertEquals(881_837_692L, huge.windowAt(3_000_000_001L)); // epoch 3
  }

  private static int agreements(long[] x, long[] y) {
    int n = 0;
    for (int i = 0; i < x.length; i++) {
      n += x[i] == y[i] ? 1 : 0;
    }
    return n;
  }

  @Test
  void windowCountIsTokensMinusOneOverSeqLen() {
    assertEquals(1, new WindowSampler(5, 4, 0).numWindows());
    assertEquals(1, new WindowSampler(8, 4, 0).numWindows());
    assertEquals(2, new WindowSampler(9, 4, 0).numWindows());
    var e = assertThrows(IllegalArgumentException.class, () -> new WindowSampler(4, 4, 0));
    assertEquals("a split of 4 tokens holds no window of seqLen + 1 = 5 tokens", e.getMessage());
  }

  @Test
  void batchRowsAreTheSampledWindowsWithOneTokenOverlap(@TempDir Path tmp) throws Exception {
    List<String> docs = IntStream.range(0, 40).mapToObj(i -> "doc " + i + " text").toList();
    Path txt = TestCorpus.write(tmp.resolve("a.txt"), docs);
    PrepareData.prepare(
        List.of(CorpusSource.file(txt)),
        new ByteTokenizer(),
        tmp.resolve("ds"),
        new PrepareOptions(0, 64, "text"));
    int seqLen = 8;
    try (TokenDataset ds = TokenDataset.open(tmp.resolve("ds"))) {
      int[] all = TestCorpus.readAll(ds, Split.TRAIN);
      WindowSampler s = WindowSampler.forSplit(ds, Split.TRAIN, seqLen, 3);
      assertEquals((all.length - 1) / seqLen, s.numWindows());
      long start = s.numWindows() - 2; // the batch runs into the next epoch
      long[] batch = s.batch(ds, Split.TRAIN, start, 5);
      assertEquals(5 * (seqLen + 1), batch.length);
      for (int row = 0; row < 5; row++) {
        int w = (int) s.windowAt(start + row);
        long[] want =
            Arrays.stream(all, w * seqLen, w * seqLen + seqLen + 1).asLongStream().toArray();
        assertArrayEquals(
            want, Arrays.copyOfRange(batch, row * (seqLen + 1), (row + 1) * (seqLen + 1)));
      }
    }
  }

  @Test
  void validationWindowsAreInFileOrder(@TempDir Path tmp) throws Exception {
    List<String> docs = IntStream.range(0, 400).mapToObj(i -> "validation doc " + i).toList();
    Path txt = TestCorpus.write(tmp.resolve("a.txt"), docs);
    PrepareData.prepare(
        List.of(CorpusSource.file(txt)),
        new ByteTokenizer(),
        tmp.resolve("ds"),
        new PrepareOptions(0.5, 100, "text"));
    int seqLen = 16;
    try (TokenDataset ds = TokenDataset.open(tmp.resolve("ds"))) {
      int[] all = TestCorpus.readAll(ds, Split.VALIDATION);
      assertEquals((all.length - 1) / seqLen, ValidationWindows.count(ds, seqLen));
      long[] first = ValidationWindows.first(ds, seqLen, 20);
      long[] want = new long[20 * (seqLen + 1)];
      for (int row = 0; row < 20; row++) {
        for (int i = 0; i <= seqLen; i++) {
          want[row * (seqLen + 1) + i] = all[row * seqLen + i];
        }
      }
      assertArrayEquals(want, first);
      assertArrayEquals(
          Arrays.copyOfRange(want, 5 * (seqLen + 1), 20 * (seqLen + 1)),
          ValidationWindows.read(ds, seqLen, 5, 15));
      long count = ValidationWindows.count(ds, seqLen);
      var e =
          assertThrows(
              IllegalArgumentException.class,
              () -> ValidationWindows.read(ds, seqLen, count - 1, 2));
      assertEquals(
          "validation windows ["
              + (count - 1)
              + ", "
              + (count + 1)
              + ") requested but the split has "
              + count
              + " windows of 17 tokens",
          e.getMessage());
      assertNotEquals(0, count);
    }
  }
}
