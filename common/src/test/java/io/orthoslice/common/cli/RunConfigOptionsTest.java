package io.orthoslice.common.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.orthoslice.common.config.RunConfig;
import java.lang.reflect.Field;
import java.lang.reflect.RecordComponent;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.OptionSpec;

/** Every setting of the run record is an option, with the record's default, and parses back into the record. */
class RunConfigOptionsTest {

  @Command(name = "probe", defaultValueProvider = RunConfigDefaults.class)
  static final class Probe {
    @Mixin
    RunConfigOptions run;
  }

  private static Probe parse(String... args) {
    Probe p = new Probe();
    new CommandLine(p).parseArgs(args);
    return p;
  }

  @Test
  void everyComponentHasAnOptionOfItsTypeAndNoOptionIsExtra() throws Exception {
    CommandLine cl = new CommandLine(new Probe());
    for (RecordComponent c : RunConfig.components()) {
      Field f = RunConfigOptions.field(c.getName());
      assertEquals(c.getType(), f.getType(), c.getName());
      OptionSpec o = cl.getCommandSpec().findOption(RunConfigDefaults.optionName(c.getName()));
      assertEquals(f.getName(), o == null ? null : ((Field) o.userObject()).getName(), c.getName());
    }
    assertEquals(RunConfig.components().size(), cl.getCommandSpec().options().size());
  }

  @Test
  void noOptionsGiveTheDefaultsAndGivenOnesReplaceThem() {
    assertEquals(RunConfig.DEFAULTS, parse().run.toConfig());
    assertEquals(RunConfig.DEFAULTS.with(Map.of("lr", 1.25e-4, "local_steps", 20, "dtype", "fp16")),
        parse("--lr", "1.25e-4", "--local-steps", "20", "--dtype", "fp16").run.toConfig());
  }

  @Test
  void aBaseKeepsWhatTheCommandLineDoesNotGive() {
    RunConfig base = RunConfig.DEFAULTS.with(Map.of("rank", 16, "lr", 1e-3, "min_lr", 1e-5));
    // --lr given: the base's floor stays (it was set); --rank not given: the base's 16 stays.
    assertEquals(base.with("lr", 5e-4), parse("--lr", "5e-4").run.toConfig(base));
  }

  @Test
  void aBadValueIsTheRecordsOneLine() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> parse("--wire-density", "0.5").run.toConfig());
    assertEquals("wire-density 0.5 needs --wire f16 or int8 (f32 sends values)", e.getMessage());
  }
}
