package io.orthoslice.worker.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orthoslice.common.cli.RunConfigDefaults;
import io.orthoslice.common.config.RunConfig;
import io.orthoslice.coordinator.cli.CoordinatorMain;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Every default of a distributed run is declared once, in {@link RunConfig#DEFAULTS}: the picocli
 * specs of {@code coordinator}, {@code launch} and {@code sweep}, parsed with no options, hold exactly
 * the record's default in every option that names a setting (a sweep axis: the one-element list of
 * it), and coordinator and launch offer every setting.
 */
class RunDefaultsTest {

  private static List<String> settingsIn(CommandLine cl) {
    List<String> seen = new ArrayList<>();
    for (OptionSpec o : cl.getCommandSpec().options()) {
      for (String name : o.names()) {
        Optional<RecordComponent> c = RunConfigDefaults.component(name);
        if (c.isEmpty()) {
          continue;
        }
        Object expected = RunConfigDefaults.defaultOf(c.get());
        Object actual = o.getValue();
        if (actual instanceof List<?> l) {
          assertEquals(1, l.size(), cl.getCommandName() + " " + name + " " + l);
          actual = l.get(0);
        }
        if (actual instanceof java.nio.file.Path p) {
          actual = p.toString();
        }
        assertEquals(expected, actual, cl.getCommandName() + " " + name);
        seen.add(c.get().getName());
      }
    }
    return seen;
  }

  @Test
  void coordinatorLaunchAndSweepDefaultToTheRecord() {
    CommandLine coordinator = CoordinatorMain.commandLine();
    coordinator.parseArgs();
    CommandLine cli = OrthosliceCli.commandLine();
    cli.parseArgs("launch");
    CommandLine launch = cli.getSubcommands().get("launch");
    CommandLine cli2 = OrthosliceCli.commandLine();
    cli2.parseArgs("sweep");
    CommandLine sweep = cli2.getSubcommands().get("sweep");

    List<String> all = RunConfig.components().stream().map(RecordComponent::getName).toList();
    assertEquals(all, settingsIn(coordinator));
    assertEquals(all, settingsIn(launch));
    List<String> swept = settingsIn(sweep);
    assertTrue(swept.size() >= 20, "sweep's options name only " + swept);
  }
}
