-- The month's shares as an exchange matrix: sender establishment -> destination, per day and kind.
-- Parameters: $month. Reads the temporary table metered_events.
select
    $month as month,
    event_date,
    establishment_id,
    destination_establishment_id,
    destination,
    case when event_id = '110106' then 'export' else 'transfer' end as share_kind,
    count(*) as shares
from metered_events
where usage_kind = 'share'
group by all
