-- A device that something refers to (QR codes bound to it; later, work orders) is retired
-- instead of deleted: kept for what refers to it, hidden from lists and terminals.
ALTER TABLE devices ADD COLUMN retired_at TIMESTAMP;
