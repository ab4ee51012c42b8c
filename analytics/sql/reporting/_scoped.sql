-- The establishments a viewer may see, after the shared filters. Every reporting query reads establishments through
-- this: $scope is the viewer's own FINESS for an establishment viewer (null for regional roles), so an
-- establishment viewer's query cannot return another establishment's rows whatever the other filters say.
select *
from marts.dim_establishments
where ($scope::varchar is null or establishment_id = $scope::varchar)
  and ($departement::varchar is null or departement = $departement::varchar)
  and ($offer::varchar is null or offer = $offer::varchar)
  and ($establishment::varchar is null or establishment_id = $establishment::varchar)
