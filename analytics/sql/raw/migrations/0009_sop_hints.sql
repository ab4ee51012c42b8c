-- issue 16 (five years of a region on one machine): raw.dicom_instances gains sop_hint, 32 bits of its SOP Instance
-- UID's MD5 (the first 32 of sop_hash; as the harvest computes it for each new record; not unique). A night's build
-- finds the stored copies of the instances it rebuilds by it, then checks their sop_hash: 4 bytes a record read instead
-- of 16, over every instance of the history (docs/scaling.md). Rebuilt rather than altered, as in 0006 and 0008.
create table raw.dicom_instances_hinted (
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
    file_key_hint           uinteger not null,
    sop_hint                uinteger not null
);
insert into raw.dicom_instances_hinted by name
select *, (md5_number(sop_instance_uid) >> 96)::uinteger as sop_hint
from raw.dicom_instances;
drop table raw.dicom_instances;
alter table raw.dicom_instances_hinted rename to dicom_instances;
