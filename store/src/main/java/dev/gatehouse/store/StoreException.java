package dev.gatehouse.store;

import dev.gatehouse.core.GatehouseException;

/**
 * The unchecked exception of the store module: the store cannot be opened, migrated, written or
 * read. Messages name the store by its URL without credentials ({@link StoreConfig#redactedUrl()}).
 */
public final class StoreException extends GatehouseException {
  public StoreException(String message) {
    super(message);
  }

  public StoreException(String message, Throwable cause) {
    super(message, cause);
  }
}
