package io.orthoslice.coordinator;

/** A registered worker and the weights version it should hold. */
public record JoinedWorker(String workerId, long weightsVersion) {}
