UPDATE registration_methods m SET settings_json = (
    CASE m.settings_json::jsonb #>> '{account,owner,kind}'
        WHEN 'fixed' THEN jsonb_set(m.settings_json::jsonb, '{account,owner,staff_id}', COALESCE(
            (SELECT to_jsonb(o.staff_id) FROM registration_method_owners o
             WHERE o.tenant_id = m.tenant_id AND o.method_id = m.id ORDER BY o.position LIMIT 1),
            '""'::jsonb))
        WHEN 'round_robin' THEN jsonb_set(m.settings_json::jsonb, '{account,owner,staff_ids}', COALESCE(
            (SELECT jsonb_agg(o.staff_id ORDER BY o.position) FROM registration_method_owners o
             WHERE o.tenant_id = m.tenant_id AND o.method_id = m.id),
            '[]'::jsonb))
        ELSE m.settings_json::jsonb END
)::TEXT;
UPDATE registration_methods m SET settings_json = jsonb_set(m.settings_json::jsonb, '{role_ids}', COALESCE(
    (SELECT jsonb_agg(r.role_id ORDER BY r.position) FROM registration_method_roles r
     WHERE r.tenant_id = m.tenant_id AND r.method_id = m.id),
    '[]'::jsonb))::TEXT;
DROP TABLE registration_method_owners;
DROP TABLE registration_method_roles;
