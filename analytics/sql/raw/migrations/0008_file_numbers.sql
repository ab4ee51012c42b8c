-- issue 16 (five years of a region on one machine): raw.dicom_instances gains file_key_hint, 32 bits of its file key's
-- MD5 (as the harvest computes it for each new record; not unique). A night's build finds the stored copies of the
-- files an archive reported deleted by it, then checks their keys: 4 bytes a record read instead of the 32-character
-- key, over every instance of the history (docs/scaling.md). Rebuilt rather than altered, as in 0006: DuckDB cannot make a column
-- added to a table with a primary key NOT NULL in the same transaction as its values.
create table raw.dicom_instances_filed (
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
    study_hash              uhugeint not null,
    file_key_hint           uinteger not null
);
insert into raw.dicom_instances_filed by name
select *, (md5_number(file_key) >> 96)::uinteger as file_key_hint
from raw.dicom_instances;
drop table raw.dicom_instances;
alter table raw.dicom_instances_filed rename to dicom_instances;
