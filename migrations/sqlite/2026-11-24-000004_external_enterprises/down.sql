DROP INDEX terminal_users_enterprise;
ALTER TABLE terminal_users ADD COLUMN enterprise_name TEXT NOT NULL DEFAULT '';
UPDATE terminal_users SET enterprise_name = COALESCE(
    (SELECT e.name FROM external_enterprises e
     WHERE e.tenant_id = terminal_users.tenant_id AND e.id = terminal_users.enterprise_id),
    'Guest');
ALTER TABLE terminal_users DROP COLUMN enterprise_id;
DROP TABLE external_enterprises;
