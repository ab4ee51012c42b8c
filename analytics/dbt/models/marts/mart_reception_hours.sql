-- Studies first received per establishment, Paris month, ISO weekday (1 = Monday) and Paris hour.
-- Grain: (establishment_id, month, weekday, hour).
-- Incremental by month: a build recounts the months on which it wrote or replaced a study (int_studies), and only
-- those.
{%- set months = rewritten_months({'int_studies': 'first_received_date'}) %}
{{ config(materialized='incremental', incremental_strategy='delete+insert', replace_where='month in ' ~ months) }}
with receipts as (
    select
        establishment_id,
        date_trunc('month', first_received_date)::date as month,
        isodow(timezone('Europe/Paris', first_received_at))::integer as weekday,
        hour(timezone('Europe/Paris', first_received_at))::integer as hour
    from {{ ref('int_studies') }}
    where first_received_at is not null
    {% if is_incremental() %}
        and {{ in_months('first_received_date', months) }}
    {% endif %}
)

select establishment_id, month, weekday, hour, count(*) as studies, {{ build_seq() }}
from receipts
group by all
