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
SELECT m.tenant_id, m.id, r.role_id, (MIN(r.ord) - 1)::INTEGER
FROM registration_methods m
CROSS JOIN LATERAL jsonb_array_elements_text(
    CASE WHEN jsonb_typeof(m.settings_json::jsonb -> 'role_ids') = 'array'
         THEN m.settings_json::jsonb -> 'role_ids' ELSE '[]'::jsonb END
) WITH ORDINALITY AS r (role_id, ord)
WHERE EXISTS (SELECT 1 FROM terminal_roles t WHERE t.tenant_id = m.tenant_id AND t.id = r.role_id)
GROUP BY m.tenant_id, m.id, r.role_id;

INSERT INTO registration_method_owners (tenant_id, method_id, staff_id, position)
SELECT m.tenant_id, m.id, s.staff_id, (MIN(s.ord) - 1)::INTEGER
FROM registration_methods m
CROSS JOIN LATERAL jsonb_array_elements_text(
    CASE m.settings_json::jsonb #>> '{account,owner,kind}'
        WHEN 'fixed' THEN jsonb_build_array(m.settings_json::jsonb #> '{account,owner,staff_id}')
        WHEN 'round_robin' THEN m.settings_json::jsonb #> '{account,owner,staff_ids}'
        ELSE '[]'::jsonb END
) WITH ORDINALITY AS s (staff_id, ord)
WHERE EXISTS (SELECT 1 FROM staff_users t WHERE t.tenant_id = m.tenant_id AND t.id = s.staff_id)
GROUP BY m.tenant_id, m.id, s.staff_id;

UPDATE registration_methods SET settings_json = (
    (settings_json::jsonb - 'role_ids') #- '{account,owner,staff_id}' #- '{account,owner,staff_ids}'
)::TEXT;
