-- issue 16 (five years of a region on one machine): raw.audit_events loses its primary key. DuckDB holds a primary
-- key as an index of every key that must fit in memory to insert one more row: ~66 bytes a key (measured,
-- docs/scaling.md), so a region's 100 M audit records a year need 6.6 GB and five years 33 GB, more than the machine.
-- The key stays unique without it: the harvest adds only the records whose key is not stored yet
-- (analytics/raw_batches.py), comparing with the stored records of the batch's event times only (the key hashes the
-- message, which holds its time), so that check reads the days a batch covers, not the history.
-- Rebuilt rather than altered: DuckDB cannot drop a primary key.
create table raw.audit_events_unkeyed (
    record_key              varchar not null,  -- sha256(message hash, study): unique, kept so by the harvest
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
    event_type_code         varchar,
    practitioner_key        varchar,
    participant_ae_keys     varchar[]
);
insert into raw.audit_events_unkeyed by name select * from raw.audit_events;
drop table raw.audit_events;
alter table raw.audit_events_unkeyed rename to audit_events;
