-- Metering facts, rewritten one Paris calendar month at a time (delete the month, insert it again).
create schema if not exists marts;

create table if not exists marts.fct_usage_daily (
    month               varchar not null,  -- YYYY-MM, Europe/Paris
    usage_date          date not null,     -- Europe/Paris
    establishment_id    varchar not null,  -- or UNATTRIBUTED
    studies_archived    bigint not null,   -- studies whose first receipt falls on this day
    instances_archived  bigint not null,   -- distinct instances received on this day
    bytes_archived      hugeint not null,  -- their size in bytes
    stored_bytes        hugeint not null,  -- bytes stored at the end of this day (not deleted by then)
    retrievals          bigint not null,   -- 110104 from the platform to a non-platform AE, not a share
    shares              bigint not null,   -- 110106 exports, and 110104 to another establishment's AE
    views               bigint not null,   -- 110103
    primary key (month, usage_date, establishment_id)
);

create table if not exists marts.fct_share_flows (
    month                       varchar not null,
    event_date                  date not null,
    establishment_id            varchar not null,  -- the study's establishment (the sender)
    destination_establishment_id varchar,          -- when the destination AE belongs to an establishment
    destination                 varchar not null,  -- establishment id, else the raw AE title or portal id
    share_kind                  varchar not null,  -- export (110106) | transfer (110104)
    shares                      bigint not null
);

create table if not exists marts.fct_share_flows_monthly (
    month                       varchar not null,  -- YYYY-MM, Europe/Paris
    establishment_id            varchar not null,  -- the study's establishment (the sender)
    destination_establishment_id varchar,          -- when the destination AE belongs to an establishment
    destination                 varchar not null,  -- establishment id, else the raw AE title or portal id
    share_kind                  varchar not null,  -- export (110106) | transfer (110104)
    shares                      bigint not null
);

-- Which months are metered, and whether a month was still running (month to date) when it was metered.
create table if not exists marts.fct_metered_months (
    month           varchar not null primary key,  -- YYYY-MM, Europe/Paris
    month_to_date   boolean not null,              -- the month had not ended (Paris time) when it was metered
    metered_through date not null,                 -- last Paris day the figures cover (the month's last day if ended)
    metered_at      timestamptz not null
);

-- Stored bytes per establishment at the end of each metered month: the opening balance the next month's metering
-- carries forward instead of summing all of history. UNATTRIBUTED always has a row, so that a month's snapshot
-- exists even when nothing is stored. A build that takes in data for a day drops the snapshots from that month on.
create table if not exists marts.fct_storage_month_end (
    month               varchar not null,  -- YYYY-MM, Europe/Paris
    establishment_id    varchar not null,  -- or UNATTRIBUTED
    stored_bytes        hugeint not null,  -- bytes stored at the end of the month's last day
    primary key (month, establishment_id)
);

-- Tele-opinion requests of the pilot pairs, one Paris month at a time (analytics/opinions/facts.py).
create table if not exists marts.fct_opinions (
    month               varchar not null,      -- YYYY-MM of the request, Europe/Paris
    record_key          varchar not null,      -- the transfer's audit record
    study_instance_uid  varchar not null,
    requester_id        varchar not null,      -- FINESS of the study's owner
    responder_id        varchar not null,      -- FINESS of the receiving establishment
    requested_at        timestamptz not null,
    responded_at        timestamptz,           -- first SR from the responder after the request
    on_call             boolean not null,
    status              varchar not null,      -- answered | unanswered | pending
    turnaround_seconds  bigint,                -- answered requests only
    primary key (month, record_key)
);

-- Accesses through the community portal ([portal] ae_titles), one Paris month at a time (analytics/metering.py):
-- `portal_views` is the sum of views, `portal_practitioners` the distinct practitioner keys (never summed across rows).
create table if not exists marts.fct_portal_access (
    month               varchar not null,  -- YYYY-MM, Europe/Paris
    establishment_id    varchar not null,  -- the study's establishment (or UNATTRIBUTED)
    practitioner_key    varchar,           -- keyed hash of the portal user's RPPS number; null: the message named none
    views               bigint not null    -- successful 110103 (or 110106) through the portal, one per event and study
);

-- Bookkeeping (never published): each metering of a month, numbered. The readers' copy takes the months metered
-- since it was last brought up to date from the facts metering rewrites by month (analytics/publish.py).
create schema if not exists build;
create table if not exists build.meterings (
    seq         bigint not null primary key,
    month       varchar not null,       -- YYYY-MM, Europe/Paris
    metered_at  timestamptz not null
);
