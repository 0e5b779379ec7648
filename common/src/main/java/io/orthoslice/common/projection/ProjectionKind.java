package io.orthoslice.common.projection;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How a projector P (d x r) is made.
 *
 * <ul>
 *   <li>GAUSSIAN: i.i.d. N(0, 1/r) entries (Flora's scaling, so {@code E[P P^T] = I}).
 *   <li>RADEMACHER: i.i.d. +-1/sqrt(r), the same variance.
 *   <li>ORTHOGONAL: the Q factor of a Gaussian d x r matrix, with column signs fixed so that
 *       diag(R) >= 0 ({@code Q diag(sign(diag R))}); {@code P^T P = I}.
 *   <li>SVD: GaLore's top-r singular vectors of the current gradient.
 * </ul>
 *
 * The random kinds are rebuilt from an 8-byte seed; an SVD projector depends on a gradient, so it
 * must be stored (or sent) in full.
 */
public enum ProjectionKind {
  GAUSSIAN,
  RADEMACHER,
  ORTHOGONAL,
  SVD;

  /** Whether the projector is a function of a seed alone. */
  public boolean seeded() {
    return this != SVD;
  }

  /** Bytes needed to persist or send a d x r projector of this kind. */
  public long persistedBytes(int d, int r, int elementBytes) {
    if (d <= 0 || r <= 0 || elementBytes <= 0) {
      throw new IllegalArgumentException(
          "d, r and elementBytes must be positive, got " + d + ", " + r + ", " + elementBytes);
    }
    return seeded() ? Long.BYTES : (long) d * r * elementBytes;
  }

  /** The lower-case name used in configuration files. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Parses a label case-insensitively. */
  public static ProjectionKind parse(String name) {
    for (ProjectionKind k : values()) {
      if (k.name().equalsIgnoreCase(name == null ? "" : name.trim())) {
        return k;
      }
    }
    String allowed =
        Arrays.stream(values()).map(ProjectionKind::label).collect(Collectors.joining(", "));
    throw new IllegalArgumentException(
        "projection kind must be one of " + allowed + ", got '" + name + "'");
  }
}
