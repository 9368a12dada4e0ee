package dev.gatehouse.audit;

class InMemoryAuditStoreTamperTest extends AuditTamperContract {
  private final InMemoryAuditStore store = new InMemoryAuditStore();

  @Override
  protected AuditStore store() {
    return store;
  }

  @Override
  protected StoreTamper tamper() {
    return store.tamper();
  }
}
