-- issue 16 (five years of a region on one machine): raw.dicom_instances gains sop_hash and study_hash, the UIDs as
-- 128-bit numbers (MD5, the models' uid_hash), written by the harvest with each record. A night's build finds the
-- stored copies of the instances and studies it takes in by them: 16 bytes a record read instead of two UID strings
-- of up to 64 characters, over every instance of the history (docs/scaling.md).
-- Rebuilt rather than altered: DuckDB cannot make a column added to a table with a primary key NOT NULL in the same
-- transaction as its values.
create table raw.dicom_instances_numbered (
    record_key              varchar primary key,
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
    study_hash              uhugeint not null
);
insert into raw.dicom_instances_numbered by name
select *, md5_number(sop_instance_uid) as sop_hash, md5_number(study_instance_uid) as study_hash
from raw.dicom_instances;
drop table raw.dicom_instances;
alter table raw.dicom_instances_numbered rename to dicom_instances;
