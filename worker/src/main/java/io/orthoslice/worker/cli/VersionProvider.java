package io.orthoslice.worker.cli;

import picocli.CommandLine;

/** Version from the jar manifest (Maven fills Implementation-Version), "dev" when run from classes. */
final class VersionProvider implements CommandLine.IVersionProvider {
  @Override
  public String[] getVersion() {
    String v = OrthosliceCli.class.getPackage().getImplementationVersion();
    return new String[] {"orthoslice " + (v == null ? "dev" : v)};
  }
}
