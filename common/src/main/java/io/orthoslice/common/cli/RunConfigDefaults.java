package io.orthoslice.common.cli;

import io.orthoslice.common.config.RunConfig;
import java.lang.reflect.RecordComponent;
import java.util.Locale;
import java.util.Optional;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Picocli's defaults for every option named after a {@link RunConfig} setting ({@code --local-steps}
 * for {@code localSteps}, under any of the option's names), read from {@link RunConfig#DEFAULTS}: the
 * commands that start or describe a distributed run declare no default of their own. Options that
 * name no setting keep their annotation's default.
 */
public final class RunConfigDefaults implements IDefaultValueProvider {

  @Override
  public String defaultValue(ArgSpec arg) {
    if (!(arg instanceof OptionSpec o)) {
      return null;
    }
    for (String name : o.names()) {
      Optional<RecordComponent> c = component(name);
      if (c.isPresent()) {
        Object v = defaultOf(c.get());
        return v == null ? null : String.valueOf(v);
      }
    }
    return null;
  }

  /** The setting an option names, if any. */
  public static Optional<RecordComponent> component(String optionName) {
    return RunConfig.components().stream().filter(c -> optionName(c.getName()).equals(optionName)).findFirst();
  }

  /** A setting's default (null where it derives from others). */
  public static Object defaultOf(RecordComponent c) {
    try {
      return c.getAccessor().invoke(RunConfig.DEFAULTS);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("reading RunConfig." + c.getName() + ": " + e.getMessage(), e);
    }
  }

  /** {@code --local-steps} for component {@code localSteps}. */
  public static String optionName(String component) {
    return "--" + component.replaceAll("([A-Z])", "-$1").toLowerCase(Locale.ROOT);
  }
}
