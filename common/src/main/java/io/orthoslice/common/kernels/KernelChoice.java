package io.orthoslice.common.kernels;

import java.util.Locale;

/** {@code --kernels}: which implementation runs attention, RMSNorm and the AdamW step. */
public enum KernelChoice {
  /** The native kernels when a library built for this libtorch is installed, else the DJL path. */
  AUTO,
  /** The native kernels, or a one-line error saying why they cannot load. */
  NATIVE,
  /** DJL's own ops only: the reference path. */
  DJL;

  public static KernelChoice parse(String s) {
    for (KernelChoice c : values()) {
      if (c.name().equalsIgnoreCase(s.trim())) {
        return c;
      }
    }
    throw new IllegalArgumentException("unknown --kernels '" + s + "'; allowed: auto, native, djl");
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
