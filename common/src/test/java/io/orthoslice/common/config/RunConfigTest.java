package io.orthoslice.common.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The run record: its run.json format is pinned, every derived value follows the one rule, and bad
 * settings are refused by name.
 */
class RunConfigTest {

  /** The pinned format; regenerate with {@link #main} after a deliberate change (and bump the protocol). */
  static final String GOLDEN = "/config/golden-run.json";

  static RunConfig golden() {
    return RunConfig.DEFAULTS.with(Map.of("preset", "20m", "mode", "same", "workers", 4, "rank", 64,
        "merge", "mean*2", "wire", "int8", "wire_density", 0.25, "dtype", "fp16", "min_lr", 1e-5))
        .with(Map.of("data", "/data/europarl-byte", "round_warmup", 5, "seed", 43L, "checkpoint_every", 2));
  }

  @Test
  void theRunJsonFormatIsPinned() throws IOException {
    String expected;
    try (InputStream in = RunConfigTest.class.getResourceAsStream(GOLDEN)) {
      expected = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    assertEquals(expected.strip(), golden().toJson().strip(), "run.json's format changed; if on purpose, run"
        + " RunConfigTest.main to regenerate " + GOLDEN + " and bump Protocol.VERSION");
    assertEquals(golden(), RunConfig.fromJson(expected));
  }

  @Test
  void aRunJsonRoundTripsThroughAFile(@TempDir Path dir) throws IOException {
    Path f = dir.resolve("run.json");
    golden().write(f);
    assertEquals(golden(), RunConfig.read(f));
    Files.writeString(f, "{\"mode\": \"same\", \"lr\": \"fast\"}");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RunConfig.read(f));
    assertTrue(e.getMessage().startsWith(f + ": run setting 'lr'"), e.getMessage());
  }

  @Test
  void theLearningRateFloorAndWarmupFollowTheirRuleUnlessSet() {
    RunConfig low = RunConfig.DEFAULTS.with("lr", 1.25e-4);
    assertNull(low.minLr());
    assertEquals(1.25e-5, low.trainConfig().minLr(), 0);
    assertEquals(Math.max(1, low.totalSteps() / 10), low.trainConfig().warmup());
    assertEquals(3e-5, low.with("min_lr", 3e-5).trainConfig().minLr(), 0);
    assertEquals(0, low.with("warmup", 0L).trainConfig().warmup());
  }

  @Test
  void wordsAreHeldInTheirCanonicalLabelAndAutoResolvesToTheModesRule() {
    RunConfig c = RunConfig.DEFAULTS.with(Map.of("mode", "ORTHOGONAL", "merge", "auto", "dtype", "float16"));
    assertEquals("orthogonal", c.mode());
    assertEquals(MergeRule.byConstruction(RoundMode.ORTHOGONAL).label(), c.merge());
    assertEquals("fp16", c.dtype());
    assertEquals(Precision.FP16, c.trainConfig().precision());
    assertEquals("mean", RunConfig.DEFAULTS.with(Map.of("mode", "same", "merge", "auto")).merge());
  }

  @Test
  void theTrajectoryLeavesOutOnlyWhatAResumeMayChange() {
    RunConfig c = RunConfig.DEFAULTS;
    assertEquals(c.trajectory(), c.with(Map.of("round_timeout", 10, "workers", 5, "eval_every", 3,
        "data", "/elsewhere")).trajectory());
    assertNotEquals(c.trajectory(), c.with("lr", 1e-3).trajectory());
    assertNotEquals(c.trajectory(), c.with("dtype", "fp16").trajectory());
    assertEquals(2e-4, c.trajectory().get("min_lr"));
  }

  @Test
  void badSettingsAreRefusedByName() {
    assertEquals("--rank must be >= 1 in mode orthogonal, got 0",
        assertThrows(IllegalArgumentException.class, () -> RunConfig.DEFAULTS.with("rank", 0)).getMessage());
    assertEquals(0, RunConfig.DEFAULTS.with(Map.of("mode", "full", "rank", 0)).rank());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> RunConfig.DEFAULTS.with("dtype", "bf16"))
        .getMessage().contains("bf16"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> RunConfig.DEFAULTS.with("min_workers", 4))
        .getMessage().startsWith("--min-workers must be in [0, --workers 3]"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> RunConfig.DEFAULTS.with("round_warmup", 16))
        .getMessage().contains("--round-warmup"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> RunConfig.DEFAULTS.with("ranks", 4))
        .getMessage().startsWith("unknown run setting 'ranks'; allowed: [preset, data,"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> RunConfig.DEFAULTS.with("preset", "7b"))
        .getMessage().contains("7b"));
  }

  /** Regenerates the golden run.json (run from the repository root). */
  public static void main(String[] args) throws IOException {
    Files.writeString(Path.of("common/src/test/resources" + GOLDEN), golden().toJson() + "\n");
  }
}
