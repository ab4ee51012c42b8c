-- issue 16 (five years of a region on one machine): raw.dicom_instances loses its primary key, as raw.audit_events did
-- in 0005. DuckDB holds a primary key as an index of every key, which each insert reads and keeps in memory (~66
-- bytes a key once loaded, docs/scaling.md): at an archive's 25 instances a study, a region's 375 M instances a year
-- would need up to 25 GB a year of history. The key stays unique without it: the harvest adds only the records whose
-- key is not stored yet (analytics/raw_batches.py), comparing a batch with the stored records of its SOP Instance
-- UIDs' hints (sop_hint, 0009; the key hashes the header, that UID included), so that check reads 4 bytes a stored
-- record, then the keys of the rows found.
-- Rebuilt rather than altered: DuckDB cannot drop a primary key.
create table raw.dicom_instances_unkeyed (
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
    institution_key         varchar,
    station_name            varchar,
    manufacturer            varchar,
    source_ae_title         varchar,
    source_ae_key           varchar,
    specific_character_set  varchar,
    transfer_syntax_uid     varchar,
    size_bytes              bigint not null,
    received_at             timestamptz not null,
    patient_key             varchar,
    file_key                varchar not null,
    harvest_id              varchar not null,
    size_estimated          boolean default false,
    received_at_estimated   boolean default false,
    value_flags             varchar,
    sop_hash                uhugeint not null,
    study_hash              uhugeint not null,
    file_key_hint           uinteger not null,
    sop_hint                uinteger not null
);
insert into raw.dicom_instances_unkeyed by name select * from raw.dicom_instances;
drop table raw.dicom_instances;
alter table raw.dicom_instances_unkeyed rename to dicom_instances;
