-- The raw schema of sansfilm v0.1.0 (its analytics/sql/raw/schema.sql, verbatim). Frozen: never edit; add a file.
create schema if not exists raw;
create schema if not exists ref;
create schema if not exists staged;
create schema if not exists marts;

create table if not exists raw.dicom_instances (
    record_key              varchar primary key,  -- sha256 of the header fields: a copied file has the same key
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
    path                    varchar not null,
    harvest_id              varchar not null
);

create table if not exists raw.audit_events (
    record_key              varchar primary key,  -- sha256(message hash, study): a copied log adds nothing
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
    path                    varchar not null,
    line                    bigint not null,
    harvest_id              varchar not null,
    event_type_code         varchar  -- first EventTypeCode, e.g. 110120 Application Start / 110121 Application Stop
);
-- warehouses created before event_type_code was kept
alter table raw.audit_events add column if not exists event_type_code varchar;

create table if not exists raw.quarantine (
    quarantine_key          varchar primary key,
    source                  varchar not null,
    path                    varchar not null,
    line                    bigint,  -- null for a whole file
    reason                  varchar not null,
    quarantined_at          timestamptz not null,
    harvest_id              varchar not null
);

-- What the harvest knows of every file it has seen: the basis of incremental runs.
create table if not exists raw.harvest_files (
    source                  varchar not null,
    path                    varchar not null,
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
    records_added           bigint
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
    path                    varchar not null,  -- the path of the record in raw.dicom_instances
    deleted_at              timestamptz not null,
    detected_by             varchar not null,  -- change_feed | reconciliation
    harvest_id              varchar not null,
    primary key (source, path)
);
