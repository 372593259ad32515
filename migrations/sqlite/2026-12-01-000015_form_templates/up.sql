-- Work-order form templates: the fields a repair form asks (stored JSON, versioned), one
-- template the tenant's default. The presets of tenants that signed up before this table
-- are written at start (baoxiu_workorders::templates::backfill_presets): their fields are
-- defined once, in Rust.
CREATE TABLE form_templates (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- minimal, simple, complex, special; NULL for the tenant's own.
    preset TEXT,
    is_default BOOLEAN NOT NULL,
    fields TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- At most one default per tenant (the code keeps at least one: a default is only ever
-- replaced, never unset).
CREATE UNIQUE INDEX form_templates_one_default ON form_templates (tenant_id) WHERE is_default;
CREATE UNIQUE INDEX form_templates_name ON form_templates (tenant_id, name);
-- The list pages oldest first.
CREATE INDEX form_templates_created ON form_templates (tenant_id, created_at, id);

-- Which template is the default is the templates' own flag now, not a loose id in the
-- settings.
ALTER TABLE tenant_settings DROP COLUMN default_form_template_id;
