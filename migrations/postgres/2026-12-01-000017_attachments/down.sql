DROP INDEX attachments_unclaimed;
DROP INDEX attachments_work_order;
DROP TABLE attachments;
