package io.orthoslice.common.cli;

import io.orthoslice.common.wire.LinkModel;
import picocli.CommandLine.Option;

/** {@code --link-rate} and {@code --link-latency}: a simulated network link for this process (see {@link LinkModel}). */
public final class LinkOptions {

  @Option(names = "--link-rate", paramLabel = "RATE", description = "Pace what this process sends and receives over"
      + " gRPC as a link of this rate would, e.g. 100mbit, 1gbit, 12.5mbps (tc's units). Default: unshaped.")
  String rate;

  @Option(names = "--link-latency", paramLabel = "TIME", description = "One-way latency of that link, e.g. 20ms: the"
      + " request and the response of every call each take it. Default: none.")
  String latency;

  /** The link these options describe ({@link LinkModel#NONE} without either). */
  public LinkModel model() {
    return LinkModel.parse(rate, latency);
  }

  /** The options as a command line gives them, for a child process (empty without either). */
  public java.util.List<String> args() {
    java.util.List<String> out = new java.util.ArrayList<>();
    if (rate != null && !rate.isBlank()) {
      out.addAll(java.util.List.of("--link-rate", rate));
    }
    if (latency != null && !latency.isBlank()) {
      out.addAll(java.util.List.of("--link-latency", latency));
    }
    return out;
  }
}
