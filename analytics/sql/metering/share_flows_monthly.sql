-- The month's share flows summed over its days: what the dashboards read (a year of the 500-site region: 3.9 M
-- daily flows, 1.8 M monthly ones). Parameters: $month. Reads marts.fct_share_flows, just written for the month.
select
    month,
    establishment_id,
    destination_establishment_id,
    destination,
    share_kind,
    sum(shares)::bigint as shares
from marts.fct_share_flows
where month = $month
group by all
