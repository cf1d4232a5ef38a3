-- The drafting queue. A message in `received`, or in `drafting` without a live lease, is a
-- drafting job. A worker claims it by moving it to `drafting` with its id in `drafting_by` and
-- a lease until `drafting_until` (milliseconds since the epoch), renewed while it drafts; a
-- worker that dies loses the job when the lease runs out. `drafting_attempts` counts the claims
-- since the message last left the queue, so a message that kills every worker ends up failed
-- instead of being retried forever.

ALTER TABLE messages ADD COLUMN drafting_by TEXT;
ALTER TABLE messages ADD COLUMN drafting_until BIGINT;
ALTER TABLE messages ADD COLUMN drafting_attempts BIGINT NOT NULL DEFAULT 0;
CREATE INDEX messages_drafting_queue ON messages (status, received_at, id);
