ALTER TABLE tenant_settings ADD COLUMN default_form_template_id TEXT;
UPDATE tenant_settings SET default_form_template_id = (
    SELECT id FROM form_templates
    WHERE form_templates.tenant_id = tenant_settings.tenant_id AND form_templates.is_default);
DROP INDEX form_templates_created;
DROP INDEX form_templates_name;
DROP INDEX form_templates_one_default;
DROP TABLE form_templates;
