-- db/runs_status.sql (schema file): runs whose process died show as 'died'.
--
-- runs_status: every row of runs, with status 'died' for a row still marked 'running'
-- whose session-level advisory lock (class 1734700915 = geotool.db.runs.RUN_LOCK_CLASS,
-- object = run id, objsubid 2 = the two-key form) nobody holds: its process was killed
-- (SIGKILL, power loss, a lost connection). The table itself is never rewritten by a
-- reader, so a run that is merely slow stays 'running'.
CREATE OR REPLACE VIEW runs_status AS
SELECT r.id, r.stage, r.dataset_id, r.params, r.summary, r.started_at, r.finished_at,
       CASE
           WHEN r.status = 'running' AND NOT EXISTS (
               SELECT 1 FROM pg_locks l
               WHERE l.locktype = 'advisory' AND l.granted
                 AND l.classid::bigint = 1734700915 AND l.objid::bigint = r.id
                 AND l.objsubid = 2)
           THEN 'died'
           ELSE r.status
       END AS status
FROM runs r;
