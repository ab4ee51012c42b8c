-- hardening (issue 13): file paths may name patients (archives laid out by patient), so raw.harvest_files alone keeps
-- them; every other raw table names a file by its file_key = left(sha256(salt || '|' || source || '|' || path), 32)
-- (analytics.file_keys), with the working warehouse's secret salt. DICOM instances get value_flags (values
-- truncated to their VR's length, dates set aside); harvest runs count whole files quarantined and flagged records.
-- Brings a v0.1.0 raw schema to this shape; staged and marts are rebuilt from raw.
create table if not exists raw.file_key_salt (
    salt                    varchar not null
);
insert into raw.file_key_salt
select replace(gen_random_uuid()::varchar || gen_random_uuid()::varchar, '-', '')
where not exists (select 1 from raw.file_key_salt);

-- rebuilt rather than altered: DuckDB cannot add NOT NULL to a column updated in the same transaction
create table raw.harvest_files_keyed (
    source                  varchar not null,
    path                    varchar not null,  -- the only place a path is kept
    size_bytes              bigint not null,
    mtime_ns                bigint not null,
    device                  bigint,
    inode                   bigint,
    head_sha256             varchar,
    head_length             integer,
    read_offset             bigint,
    read_line               bigint,
    status                  varchar not null,
    reason                  varchar,
    harvested_at            timestamptz not null,
    harvest_id              varchar not null,
    file_key                varchar not null,
    primary key (source, path)
);
insert into raw.harvest_files_keyed
select source, path, size_bytes, mtime_ns, device, inode, head_sha256, head_length, read_offset, read_line, status,
       -- v0.1.0 named the file in gzip reasons ("<path>: gzip file is ...")
       case when reason like '%: gzip file is %' then regexp_replace(reason, '^.*: (gzip file is .*)$', '\1')
            else reason end,
       harvested_at, harvest_id,
       left(sha256((select salt from raw.file_key_salt) || '|' || source || '|' || path), 32)
from raw.harvest_files;
drop table raw.harvest_files;
alter table raw.harvest_files_keyed rename to harvest_files;

alter table raw.dicom_instances rename column path to file_key;
update raw.dicom_instances set file_key = left(sha256((select salt from raw.file_key_salt) || '|' || source || '|' || file_key), 32);
alter table raw.dicom_instances add column value_flags varchar;

alter table raw.audit_events rename column path to file_key;
update raw.audit_events set file_key = left(sha256((select salt from raw.file_key_salt) || '|' || source || '|' || file_key), 32);

-- Runs count their whole files quarantined themselves (the quarantine keeps one row per file from now on).
alter table raw.harvest_runs add column files_quarantined bigint;
alter table raw.harvest_runs add column records_flagged bigint;
update raw.harvest_runs as r
set files_quarantined = (select count(*) from raw.quarantine as q where q.harvest_id = r.harvest_id and q.line is null)
where finished_at is not null;

-- v0.1.0 named the file in gzip reasons ("<path>: gzip file is ..."); keys were hashes of the path.
alter table raw.quarantine rename column path to file_key;
update raw.quarantine set file_key = left(sha256((select salt from raw.file_key_salt) || '|' || source || '|' || file_key), 32);
update raw.quarantine set reason = regexp_replace(reason, '^.*: (gzip file is .*)$', '\1') where reason like '%: gzip file is %';
-- one row per quarantined file (the first), keyed as analytics.harvest keys new entries
delete from raw.quarantine as q
where q.line is null and exists (
    select 1 from raw.quarantine as o
    where o.source = q.source and o.file_key = q.file_key and o.line is null
        and (o.quarantined_at < q.quarantined_at or (o.quarantined_at = q.quarantined_at and o.quarantine_key < q.quarantine_key))
);
update raw.quarantine
set quarantine_key = sha256(file_key || '|' || case when line is null then 'file' else line::varchar || '|' || reason end);

alter table raw.dicom_deletions rename column path to file_key;
update raw.dicom_deletions set file_key = left(sha256((select salt from raw.file_key_salt) || '|' || source || '|' || file_key), 32);
