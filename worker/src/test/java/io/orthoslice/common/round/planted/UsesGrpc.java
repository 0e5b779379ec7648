package io.orthoslice.common.round.planted;

import io.grpc.Status;

/** A planted violation for ArchitectureTest: a class in a math package that uses gRPC. */
public final class UsesGrpc {

  private UsesGrpc() {}

  public static String code() {
    return Status.INVALID_ARGUMENT.getCode().name();
  }
}
