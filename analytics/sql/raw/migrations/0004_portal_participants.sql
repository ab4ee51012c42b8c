-- issue 18 (community portal): an audit event keeps who asked, when that is a health professional (the keyed hash of
-- the RPPS number; the number itself is never stored), and the keyed hashes of its participants that are neither
-- Source nor Destination (a portal it went through is one), so that metering can tell portal accesses whatever
-- `[portal] ae_titles` says at the time. Records harvested before
-- this version have neither: their portal accesses are not counted (a re-harvest of those logs would be needed).
alter table raw.audit_events add column if not exists practitioner_key varchar;
alter table raw.audit_events add column if not exists participant_ae_keys varchar[];
