package dev.gatehouse.audit;

/**
 * What an acknowledged ("durable") audit event survives. The audit log acknowledges an event only
 * once the {@link AuditStore} has committed the batch holding it; what a commit means is the store's
 * part of the contract, per mode.
 */
public enum Durability {
  /**
   * The default. An acknowledged event survives the gateway process being killed ({@code kill -9}),
   * but not necessarily a power loss or kernel crash of the machine holding the store (the data may
   * still sit in the operating system's page cache).
   */
  PROCESS,
  /** An acknowledged event has been flushed to stable storage (fsync per batch): it survives power loss. */
  MACHINE
}
