DROP TABLE work_order_events;
DROP TABLE work_orders;
ALTER TABLE tenant_settings DROP COLUMN service_targets;
DROP TABLE outbox_events;
