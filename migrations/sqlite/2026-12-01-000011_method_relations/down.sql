UPDATE registration_methods SET settings_json = json_set(settings_json, '$.account.owner.staff_id',
    COALESCE((SELECT o.staff_id FROM registration_method_owners o
              WHERE o.tenant_id = registration_methods.tenant_id AND o.method_id = registration_methods.id
              ORDER BY o.position LIMIT 1), ''))
WHERE json_extract(settings_json, '$.account.owner.kind') = 'fixed';
UPDATE registration_methods SET settings_json = json_set(settings_json, '$.account.owner.staff_ids',
    json(COALESCE((SELECT json_group_array(staff_id) FROM (
        SELECT o.staff_id FROM registration_method_owners o
        WHERE o.tenant_id = registration_methods.tenant_id AND o.method_id = registration_methods.id
        ORDER BY o.position)), '[]')))
WHERE json_extract(settings_json, '$.account.owner.kind') = 'round_robin';
UPDATE registration_methods SET settings_json = json_set(settings_json, '$.role_ids',
    json(COALESCE((SELECT json_group_array(role_id) FROM (
        SELECT r.role_id FROM registration_method_roles r
        WHERE r.tenant_id = registration_methods.tenant_id AND r.method_id = registration_methods.id
        ORDER BY r.position)), '[]')));
DROP TABLE registration_method_owners;
DROP TABLE registration_method_roles;
