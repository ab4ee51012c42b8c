-- Finished harvest runs whose files do not add up: every file seen must be parsed, unchanged since the last harvest,
-- or quarantined whole (harvest_runs.files_quarantined; for runs that did not count it, raw.quarantine rows without a
-- line. harvest_runs.quarantined also counts malformed log records, so it is not the figure to add). The quarantine
-- keeps one row per file, so a file quarantined again by a later run is counted by that run, not found there.
with runs as (
    select harvest_id, source, files_seen, files_parsed, files_unchanged, files_quarantined
    from raw.harvest_runs
    where finished_at is not null
),

whole_files as (
    select harvest_id, count(*) as files_quarantined
    from raw.quarantine
    where line is null
    group by harvest_id
)

select
    r.harvest_id,
    r.source,
    r.files_seen,
    r.files_parsed,
    r.files_unchanged,
    coalesce(r.files_quarantined, w.files_quarantined, 0) as files_quarantined
from runs as r
left join whole_files as w using (harvest_id)
where r.files_seen is distinct from r.files_parsed + r.files_unchanged + coalesce(r.files_quarantined, w.files_quarantined, 0)
order by r.harvest_id
