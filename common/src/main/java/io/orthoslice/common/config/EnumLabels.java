package io.orthoslice.common.config;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The lower-case labels by which options name enum values ({@code --mode full}, {@code --wire int8}),
 * and the one parse rule with its one-line error listing every allowed label.
 */
public final class EnumLabels {

  private EnumLabels() {}

  public static String label(Enum<?> v) {
    return v.name().toLowerCase(Locale.ROOT);
  }

  /**
   * The value of {@code type} labelled {@code s} (case and surrounding blanks ignored).
   *
   * @param what the option's name in the error, e.g. "inner-state"
   * @throws IllegalArgumentException naming every allowed label
   */
  public static <E extends Enum<E>> E parse(Class<E> type, String what, String s) {
    String wanted = s == null ? "" : s.trim();
    for (E v : type.getEnumConstants()) {
      if (label(v).equalsIgnoreCase(wanted)) {
        return v;
      }
    }
    throw new IllegalArgumentException(what + " must be one of " + Arrays.stream(type.getEnumConstants())
        .map(EnumLabels::label).collect(Collectors.joining(", ")) + ", got '" + s + "'");
  }
}
