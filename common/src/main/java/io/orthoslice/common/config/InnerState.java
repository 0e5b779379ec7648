package io.orthoslice.common.config;


/**
 * What a worker does with its inner (AdamW) optimizer state between rounds.
 *
 * <ul>
 *   <li>RESET: a fresh optimizer every round (zero moments, bias correction from step 1), so every
 *       round starts with Adam's largest, sign-like steps;
 *   <li>KEEP: the worker keeps its moments across rounds, as DiLoCo's inner optimizer does: dense
 *       parameters always, a projected matrix's factor moments while its slice is unchanged (reset
 *       when the slice is re-drawn);
 *   <li>TRANSPORT: KEEP, and a re-drawn slice's factor moments are moved into the new basis by
 *       LDAdam's projection-aware rule ({@code MomentTransport}) instead of reset.
 * </ul>
 */
public enum InnerState {
  RESET,
  KEEP,
  TRANSPORT;

  public String label() {
    return EnumLabels.label(this);
  }

  /** Whether the worker keeps one optimizer across rounds. */
  public boolean persistent() {
    return this != RESET;
  }

  public static InnerState parse(String s) {
    return EnumLabels.parse(InnerState.class, "inner-state", s);
  }
}
