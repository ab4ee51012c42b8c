-- Retrievals attempted and failed per establishment: the month's 110104 events classified 'retrieval' exactly as
-- metering classifies them (metering/metered_events.sql, here with the failures kept), by EventOutcomeIndicator.
-- Reads the temporary table sla_events.
select
    establishment_id,
    count(*) as retrievals,
    count(*) filter (where not succeeded) as failed
from sla_events
where usage_kind = 'retrieval'
group by establishment_id
order by establishment_id
