-- The job runner's queue. A job is enqueued in the transaction of the change that calls for
-- it; a worker claims it by taking a lease (`locked_until`, `locked_by`) in one statement,
-- runs it outside any transaction, then deletes it (done) or writes back its failure:
-- `queued` again with a later `run_at` (exponential back-off), or `dead` with its last error
-- once its tries are spent. Platform-wide jobs carry the scope `platform` as their tenant.
CREATE TABLE jobs (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    run_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    locked_by TEXT,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- Claiming: the oldest due job of any tenant.
CREATE INDEX jobs_claim ON jobs (status, run_at);
-- An admin's list of the tenant's jobs.
CREATE INDEX jobs_list ON jobs (tenant_id, status, created_at, id);

-- Periodic jobs: one row per schedule. A worker enqueues the next run only by moving
-- `next_run_at` on where it is still due (compare-and-set), so any number of workers
-- enqueue one job per period.
CREATE TABLE job_schedules (
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    next_run_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- What the clean-up jobs delete by.
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
CREATE INDEX sms_codes_age ON sms_codes (created_at);
