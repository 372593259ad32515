-- A registration method's roles and owner staff were ids inside its settings JSON: deleting
-- a role left the method naming it (and its logins failing). They become join tables whose
-- foreign keys carry tenant_id; the JSON keeps only what is not a reference. Ids that named
-- nothing any more (the roles deleted under the old scheme) are dropped, not copied.
CREATE TABLE registration_method_roles (
    tenant_id TEXT NOT NULL,
    method_id TEXT NOT NULL,
    role_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, method_id, role_id),
    FOREIGN KEY (tenant_id, method_id) REFERENCES registration_methods (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, role_id) REFERENCES terminal_roles (tenant_id, id)
);
-- Deleting a role looks up the methods that give it.
CREATE INDEX registration_method_roles_role ON registration_method_roles (tenant_id, role_id);

-- The staff a method's new accounts are given to (`fixed`: one row; `round_robin`: in turn).
CREATE TABLE registration_method_owners (
    tenant_id TEXT NOT NULL,
    method_id TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, method_id, staff_id),
    FOREIGN KEY (tenant_id, method_id) REFERENCES registration_methods (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, staff_id) REFERENCES staff_users (tenant_id, id)
);
CREATE INDEX registration_method_owners_staff ON registration_method_owners (tenant_id, staff_id);

INSERT INTO registration_method_roles (tenant_id, method_id, role_id, position)
SELECT m.tenant_id, m.id, j.value, MIN(j.key)
FROM registration_methods m, json_each(m.settings_json, '$.role_ids') j
WHERE json_type(m.settings_json, '$.role_ids') = 'array'
  AND EXISTS (SELECT 1 FROM terminal_roles t WHERE t.tenant_id = m.tenant_id AND t.id = j.value)
GROUP BY m.tenant_id, m.id, j.value;

INSERT INTO registration_method_owners (tenant_id, method_id, staff_id, position)
SELECT m.tenant_id, m.id, json_extract(m.settings_json, '$.account.owner.staff_id'), 0
FROM registration_methods m
WHERE json_extract(m.settings_json, '$.account.owner.kind') = 'fixed'
  AND EXISTS (SELECT 1 FROM staff_users t WHERE t.tenant_id = m.tenant_id
              AND t.id = json_extract(m.settings_json, '$.account.owner.staff_id'));
INSERT INTO registration_method_owners (tenant_id, method_id, staff_id, position)
SELECT m.tenant_id, m.id, j.value, MIN(j.key)
FROM registration_methods m, json_each(m.settings_json, '$.account.owner.staff_ids') j
WHERE json_extract(m.settings_json, '$.account.owner.kind') = 'round_robin'
  AND EXISTS (SELECT 1 FROM staff_users t WHERE t.tenant_id = m.tenant_id AND t.id = j.value)
GROUP BY m.tenant_id, m.id, j.value;

UPDATE registration_methods SET settings_json = json_remove(settings_json,
    '$.role_ids', '$.account.owner.staff_id', '$.account.owner.staff_ids');
