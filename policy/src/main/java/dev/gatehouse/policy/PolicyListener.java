package dev.gatehouse.policy;

/**
 * Told when a new policy took effect, so the server can re-check open sessions against it (and
 * end those it no longer admits). Called on the reloading thread after the switch; an exception is
 * logged and does not affect the reload or other listeners.
 */
@FunctionalInterface
public interface PolicyListener {
  void policyReloaded(PolicyEngine previous, PolicyEngine current);
}
