package io.orthoslice.worker.architecture.planted.cycleb;

import io.orthoslice.worker.architecture.planted.cyclea.Upstream;

/** The other half of the planted cycle: an arrow back up. */
public final class Downstream {
  public Upstream back() {
    return new Upstream();
  }
}
