-- Tele-opinion requests of the period (whole Paris months) in the pairs the viewer may see: those with the requester
-- or the responder in `scoped` (an establishment viewer: the pairs it asks or answers in, nothing when it is outside
-- the pilot). No study UID, no record key: which pair and when, not which patient.
with asked as (
    select o.*
    from marts.fct_opinions as o
    where o.month >= strftime($first_day::date, '%Y-%m') and o.month < strftime($end_day::date, '%Y-%m')
      and (o.requester_id in (select establishment_id from scoped)
           or o.responder_id in (select establishment_id from scoped))
)

select
    a.month,
    a.requester_id,
    coalesce(requester.name, a.requester_id) as requester,
    a.responder_id,
    coalesce(responder.name, a.responder_id) as responder,
    a.requested_at,
    a.responded_at,
    a.on_call,
    a.status,
    a.turnaround_seconds
from asked as a
left join marts.dim_establishments as requester on requester.establishment_id = a.requester_id
left join marts.dim_establishments as responder on responder.establishment_id = a.responder_id
order by a.month, a.requester_id, a.responder_id, a.requested_at
