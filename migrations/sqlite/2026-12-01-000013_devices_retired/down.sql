ALTER TABLE devices DROP COLUMN retired_at;
