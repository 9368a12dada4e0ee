package dev.gatehouse.policy;

import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Resource;
import java.time.Instant;

/**
 * Port: does this principal hold an active access grant to this resource right now? Rules with
 * {@code when: {grant: required}} ask it; the approvals module implements it over its store. It is
 * called only for rules whose other matchers already matched, on the calling thread, so an
 * implementation must be thread-safe and should answer from a cache or a fast read. An exception
 * counts as "cannot tell", which the engine resolves the restrictive way (fail closed).
 */
@FunctionalInterface
public interface GrantLookup {
  /** The default until approvals exist: nobody holds a grant. */
  GrantLookup NONE = (principal, resource, at) -> false;

  boolean hasActiveGrant(Principal principal, Resource resource, Instant at);
}
