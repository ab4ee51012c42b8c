-- The establishment registry as the marts see it, plus UNATTRIBUTED so that every fact has a dimension row.
with registry as (
    select * from {{ source('ref', 'establishments') }}
)

select
    establishment_id, name, siret, departement, category, sector, offer, adhesion_date, planned_go_live,
    actual_go_live, end_date, actual_go_live is not null as is_live,
    actual_go_live - planned_go_live as go_live_delay_days
from registry
union all
select
    'UNATTRIBUTED', 'non attribué (émetteur inconnu)', null, null, null, null, null, null, null, null, null, false, null
