-- Service levels per Paris month, establishment and term, rewritten one month at a time (delete, then insert).
create schema if not exists marts;

create table if not exists marts.mart_service_levels (
    month               varchar not null,  -- YYYY-MM, Europe/Paris
    establishment_id    varchar not null,
    offer               varchar not null,
    term                varchar not null,  -- availability | ingestion_delay_p95 | retrieval_failure_rate
    unit                varchar not null,  -- % or min
    measured            decimal(9, 2),     -- null when nothing was measured (no study, no retrieval)
    target              decimal(9, 2) not null,
    breached            boolean not null,
    sample_size         bigint not null,   -- minutes of the window, studies measured, or retrievals
    details             varchar not null,  -- how the figure was obtained, in words
    credit_percent      decimal(5, 2) not null,   -- of the month's subscription fee, after the cap
    fee                 decimal(18, 2) not null,  -- the month's subscription fee (prorated to the active days)
    credit_amount       decimal(18, 2) not null,  -- rounded half-up to the cent, after the cap
    capped              boolean not null,         -- the month's cap cut this credit
    primary key (month, establishment_id, term)
);
