-- Raw layer: what the harvest stored, exactly once per record. Written only by analytics.harvest.
-- The current schema, run on an empty warehouse only (then stamped at the latest migration). A change here needs
-- its migration in migrations/NNNN_slug.sql: see analytics/warehouse_schema.py.
-- File paths are patient data (archives are often laid out by patient): raw.harvest_files alone holds them; every
-- other table names a file by its file_key = left(sha256(salt || '|' || source || '|' || path), 32), with the salt
-- of raw.file_key_salt (a secret of this working warehouse: never published, never exported to the lake); a path
-- whose name is not UTF-8 is held as 'not-utf8:' and the path escaped, and its key is of the path's bytes.
create schema if not exists raw;
create schema if not exists ref;
create schema if not exists staged;
create schema if not exists marts;

create table if not exists raw.dicom_instances (
    -- sha256 of the header fields (a copied file has the same key): unique, kept so by the harvest
    -- (analytics/raw_batches.py) rather than by a primary key, whose index grows in memory with the history
    -- (migration 0010)
    record_key              varchar not null,
    source                  varchar not null,
    study_instance_uid      varchar not null,
    series_instance_uid     varchar not null,
    sop_instance_uid        varchar not null,
    sop_class_uid           varchar,
    modality                varchar,
    study_date              date,
    study_time              varchar,
    institution_name        varchar,
    institution_key         varchar,  -- institution name without accents, case or extra whitespace
    station_name            varchar,
    manufacturer            varchar,
    source_ae_title         varchar,
    source_ae_key           varchar,  -- AE title trimmed and upper-cased, as the registry is matched
    specific_character_set  varchar,
    transfer_syntax_uid     varchar,
    size_bytes              bigint not null,
    received_at             timestamptz not null,
    patient_key             varchar,  -- HMAC-SHA256 of PatientID, never the ID itself
    file_key                varchar not null,  -- the file (or archive resource) it was read from
    harvest_id              varchar not null,
    size_estimated          boolean default false,  -- size_bytes estimated (C-FIND, DICOMweb without sizes)
    received_at_estimated   boolean default false,  -- received_at = first harvest that saw it (no receipt known)
    value_flags             varchar,  -- e.g. 'institution_name:truncated,study_date:out_of_range' (docs/harvest.md)
    -- the UIDs as 128-bit numbers (md5_number, the models' uid_hash), by which a build finds stored copies
    sop_hash                uhugeint not null,
    study_hash              uhugeint not null,
    file_key_hint           uinteger not null,  -- 32 bits of file_key's MD5 (not unique): read first to find a file's rows
    sop_hint                uinteger not null  -- 32 bits of sop_hash (not unique): read first to find an instance's copies
);

create table if not exists raw.audit_events (
    -- sha256(message hash, study): unique, kept so by the harvest (analytics/raw_batches.py) rather than by a primary
    -- key, whose index must fit in memory (migration 0005): a copied log adds nothing
    record_key              varchar not null,
    source                  varchar not null,
    message_sha256          varchar not null,
    event_id                varchar not null,
    event_name              varchar,
    action                  varchar,
    outcome                 integer,
    event_time              timestamptz not null,
    source_ae               varchar,
    destination_ae          varchar,
    source_ae_key           varchar,
    destination_ae_key      varchar,
    audit_source_id         varchar,
    study_instance_uid      varchar,
    instance_count          integer,
    patient_key             varchar,
    file_key                varchar not null,
    line                    bigint not null,
    harvest_id              varchar not null,
    event_type_code         varchar,  -- first EventTypeCode, e.g. 110120 Application Start / 110121 Application Stop
    practitioner_key        varchar,  -- keyed hash of the requesting user's RPPS number (a portal's doctor), if any
    participant_ae_keys     varchar[]  -- keyed hashes of the IDs of the participants neither Source nor Destination
);

create table if not exists raw.quarantine (
    quarantine_key          varchar primary key,
    source                  varchar not null,
    file_key                varchar not null,
    line                    bigint,  -- null for a whole file
    reason                  varchar not null,
    quarantined_at          timestamptz not null,
    harvest_id              varchar not null
);

-- What the harvest knows of every file it has seen: the basis of incremental runs.
create table if not exists raw.harvest_files (
    source                  varchar not null,
    path                    varchar not null,  -- the only place a path is kept
    size_bytes              bigint not null,
    mtime_ns                bigint not null,
    device                  bigint,
    inode                   bigint,
    head_sha256             varchar,  -- of the first bytes read, to recognise a rotated or rewritten log
    head_length             integer,
    read_offset             bigint,  -- logs: bytes already read
    read_line               bigint,  -- logs: lines already read
    status                  varchar not null,  -- parsed | quarantined
    reason                  varchar,
    harvested_at            timestamptz not null,
    harvest_id              varchar not null,
    file_key                varchar not null,
    primary key (source, path)
);

create table if not exists raw.harvest_runs (
    harvest_id              varchar primary key,
    source                  varchar not null,
    kind                    varchar not null,
    started_at              timestamptz not null,
    finished_at             timestamptz,
    files_seen              bigint,
    files_parsed            bigint,
    files_unchanged         bigint,
    quarantined             bigint,
    records_added           bigint,
    files_quarantined       bigint,  -- whole files: files_seen = files_parsed + files_unchanged + files_quarantined
    records_flagged         bigint   -- instances stored with a value truncated or a date set aside (value_flags)
);

-- API sources (Orthanc): how far the change feed has been read; moved in the transaction of the records it covers.
create table if not exists raw.harvest_cursors (
    source                  varchar primary key,
    position                bigint not null,  -- Orthanc: the last change sequence number committed
    updated_at              timestamptz not null,
    harvest_id              varchar not null
);

-- Stored instances an archive reports deleted (Orthanc: `Deleted` changes when the server logs them, else found
-- missing when a harvest reconciles the server's instance list): storage stops counting them from that day.
create table if not exists raw.dicom_deletions (
    source                  varchar not null,
    file_key                varchar not null,  -- the file_key of the record in raw.dicom_instances
    deleted_at              timestamptz not null,
    detected_by             varchar not null,  -- change_feed | reconciliation
    harvest_id              varchar not null,
    primary key (source, file_key)
);

create table if not exists raw.file_key_salt (
    salt                    varchar not null
);
insert into raw.file_key_salt
select replace(gen_random_uuid()::varchar || gen_random_uuid()::varchar, '-', '')
where not exists (select 1 from raw.file_key_salt);
