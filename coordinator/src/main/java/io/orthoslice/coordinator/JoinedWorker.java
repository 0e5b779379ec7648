package io.orthoslice.coordinator;

/** A registered worker, the key that proves its later calls are its own, and the weights version it should hold. */
public record JoinedWorker(String workerId, String workerKey, long weightsVersion) {}
