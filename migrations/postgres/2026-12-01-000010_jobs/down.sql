DROP INDEX sms_codes_age;
DROP INDEX refresh_tokens_expiry;
DROP TABLE job_schedules;
DROP TABLE jobs;
