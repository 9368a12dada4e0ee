package dev.gatehouse.core;

/**
 * Port: the policy engine. Both methods are pure functions of their arguments and the loaded policy;
 * they never throw for a command they cannot judge, they deny it (fail closed). Thread-safe.
 */
public interface Policy {
  /** May this principal open a session to this resource at all? */
  Decision admit(Principal principal, Resource resource, ClientInfo client);

  /** What to do with one execution of a command within an admitted session. */
  Decision decide(Session session, Command command);
}
