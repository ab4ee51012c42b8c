-- Freshness per harvested source (not establishment data: regional roles only).
select source, kind, harvests, last_harvest_at, newest_record_at, records_added, quarantined
from marts.mart_source_freshness
order by source
