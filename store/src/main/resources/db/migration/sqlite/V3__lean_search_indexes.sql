-- The embedded store writes every event of every statement on the data path, and each index is one
-- more b-tree insert per event (bench/README.md: dropping the search indexes cut the writer's CPU
-- per event by about a quarter and raised pgbench TPS through the gateway by 15-20% on 2 cores).
-- Searches read newest first with a limit (ORDER BY pos DESC LIMIT n), so a principal or resource
-- filter walks back from the newest row and stops early; the time index stays for --from/--to.
-- The PostgreSQL store, for production and clusters, keeps every index.
DROP INDEX IF EXISTS audit_events_subject;
DROP INDEX IF EXISTS audit_events_principal_name;
DROP INDEX IF EXISTS audit_events_resource;
