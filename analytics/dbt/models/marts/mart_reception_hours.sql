-- Studies first received per establishment, Paris month, ISO weekday (1 = Monday) and Paris hour.
-- Grain: (establishment_id, month, weekday, hour).
with receipts as (
    select
        establishment_id,
        date_trunc('month', first_received_date)::date as month,
        isodow(timezone('Europe/Paris', first_received_at))::integer as weekday,
        hour(timezone('Europe/Paris', first_received_at))::integer as hour
    from {{ ref('int_studies') }}
    where first_received_at is not null
)

select establishment_id, month, weekday, hour, count(*) as studies
from receipts
group by all
