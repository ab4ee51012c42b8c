{#- dbt-duckdb's delete+insert (overridden), with additions for the models that feed incremental marts and the
    metering's month-end snapshots:
    * `replaced_days` (config): an expression over a model's columns giving the Paris day a row counts on. The rows a
      build replaces are found once, their days kept in build.replaced (tombstones: what the build took away, which
      the new rows cannot tell when a row changes day), and deleted by rowid;
    * `stored_from` (config, with `replaced_days`): an expression over `before` (the row replaced, nulls for a new
      key) and `after` (the new row) giving the first Paris day on which the bytes the archive stores, as metering
      counts them, differ; null when they do not. `stored_from_columns` names the columns of `before` it reads (only
      those are read: reading whole rows scattered over the history costs a second per night). Kept in
      build.replaced as model 'stored_bytes': the metering's snapshots are dropped from that month
      (analytics.dbt_build);
    * `rewritten_studies` (config, true): the studies (study_hash, study_no) of the rows a build wrote or replaced
      are kept in build.rewritten_studies, where the models downstream find the studies to rebuild
      (rewritten_studies() below): an instance filed under another study by its new copy rewrites both studies;
    * `vanishing_keys` (config, with a unique key): a query of keys whose rows are replaced even when the new rows do
      not name them, such as the studies an upstream model rewrote (a study left with no instance has no row left).
      It must be the set of keys the model's incremental select rebuilds (set once, before the config, and used in
      both), or rows still valid would be deleted. The keys replaced and not written again are kept in
      build.removed_keys (this build, the model, the key, of type uhugeint: study_hash): a publish deletes them from
      the copy too. With `lookup_key`, the query gives values of that column (study_no), not keys;
    * `replace_where` (config, instead of a unique key): the rows to delete before the insert, such as every row of
      the days a mart recounts, even those left with no row at all.
    * `lookup_key` (config, with a unique key): a column the rows replaced are found by instead of the unique key,
      one value per key (study_no: a study's number, given in the order builds take studies in, stg_study_numbers),
      which DuckDB finds by each row group's smallest and largest value where the key is random (study_hash). The
      `vanishing_keys` query then gives values of this column;
    * `new_keys_only` (config, with a unique key): the model's select never gives a key the table holds
      (stg_study_numbers), so no row is looked for to replace: the new rows are appended;
    * `storage_day` (config, with a unique key): the column (a Paris day) the model's rows are stored in order of
      (in_storage_order() below): the days of the rows a build replaces are kept in build.replacements.
    * `replaced_storage_days` (config, with a unique key and `storage_day`, not with `vanishing_keys`): an
      expression over a new row giving the list of days (of `storage_day`, a column no stored row leaves null) the
      row it replaces may be stored on, such as the days from an instance's earliest copy to its latest. The rows
      replaced are then looked for among the rows of those days only: DuckDB skips the other row groups by their
      smallest and largest day (a few days: it checks each one against them; more than 50, the range between the
      first and the last), so a night reads the key column of its own days and of the old keys it names, not of the
      whole history (while it names at most 50 days). A new row whose list is null, empty or holds a null (a day
      unknown), and the build looks on every day, as without the config.
    build.replaced and build.rewritten_studies are emptied by analytics.dbt_build once a build has succeeded: a failed
    build's wait for the next one (rebuilding a study again is harmless). build.removed_keys is kept until a full
    rebuild (or that of a selection of models).
    With a unique key, the rows replaced are found once (by rowid) and the builds that had written them are kept in
    build.replacements (this build, the model, the replaced rows' build_seq and storage day): a publish deletes the
    keys written since its copy's update only among the rows of those builds and days, which DuckDB finds without
    reading the other row groups, and deletes nothing where a build replaced no row (analytics.publish). Kept across
    builds (a copy may be several builds behind) until a full rebuild or the rebuild of a selection of models. -#}
{% macro duckdb__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {%- set columns = get_quoted_csv(dest_columns | map(attribute='name')) -%}
    {%- set replaced_days = config.get('replaced_days') -%}
    {%- set replace_where = config.get('replace_where') -%}
    {%- if incremental_predicates or (unique_key is sequence and unique_key is not string) -%}
        {%- do exceptions.raise_compiler_error('delete+insert here takes one unique key and no predicates') -%}
    {%- endif -%}
    {%- if unique_key and replace_where -%}{# the publish finds a keyed model's rows by build.replacements #}
        {%- do exceptions.raise_compiler_error('delete+insert here takes a unique key or replace_where, not both') -%}
    {%- endif -%}
    {%- set vanishing_keys = config.get('vanishing_keys') -%}
    {%- if (config.get('rewritten_studies') or vanishing_keys) and not unique_key -%}
        {%- do exceptions.raise_compiler_error('rewritten_studies and vanishing_keys need a unique key') -%}
    {%- endif -%}
    {%- set replaced_storage_days = config.get('replaced_storage_days') -%}
    {%- if replaced_storage_days and (vanishing_keys or not unique_key or not config.get('storage_day')) -%}
        {%- do exceptions.raise_compiler_error(
            'replaced_storage_days needs a unique key, a storage_day and no vanishing_keys') -%}
    {%- endif -%}
    {%- if config.get('new_keys_only') and (not unique_key or vanishing_keys or replaced_days or replaced_storage_days
            or config.get('rewritten_studies') or config.get('stored_from')) -%}
        {%- do exceptions.raise_compiler_error('new_keys_only takes a unique key and nothing to replace') -%}
    {%- endif -%}
    {%- set lookup_key = config.get('lookup_key') or unique_key -%}
    {% if replace_where %}
        delete from {{ target }} where {{ replace_where }};
    {% elif unique_key and not config.get('new_keys_only') %}
        {%- set stored_from = config.get('stored_from') -%}
        {%- set before_columns = [unique_key] + config.get('stored_from_columns', [])
            + (['study_hash', 'study_no'] if config.get('rewritten_studies') else []) %}
        {%- if replaced_storage_days and execute %}{# the new rows are in `source` already: asked while rendering #}
            {%- set unknown = run_query('select count(*) from ' ~ source ~ ' where coalesce(list_count('
                ~ replaced_storage_days ~ '), 0) = 0 or list_count(' ~ replaced_storage_days ~ ') < len('
                ~ replaced_storage_days ~ ')').columns[0].values()[0] %}
            {%- set replaced_storage_days = none if unknown else replaced_storage_days %}
        {%- endif %}
        create or replace temporary table sansfilm_replaced as
        select rowid as replaced_rowid, build_seq as replaced_seq,
               {{ replaced_days or 'null' }} as day, {{ config.get('storage_day') or 'null' }} as stored_day,
               {{ before_columns | unique | join(', ') }}
        from {{ target }}
        where {{ lookup_key }} in (
            select {{ lookup_key }} from {{ source }}
            {%- if vanishing_keys %} union select * from {{ vanishing_keys }}{% endif %}
        )
        {%- if replaced_storage_days %}
            and {{ config.get('storage_day') }} in (select unnest({{ replaced_storage_days }}) from {{ source }})
        {%- endif %};
        insert into build.replacements
        select distinct {{ this_build() }}, '{{ this.identifier }}', replaced_seq, stored_day from sansfilm_replaced;
        {% if replaced_days -%}
        insert into build.replaced
        select distinct '{{ this.identifier }}', day from sansfilm_replaced where day is not null;
        {% endif -%}
        {% if stored_from -%}
        insert into build.replaced
        select distinct 'stored_bytes', day from (
            select {{ stored_from }} as day
            from {{ source }} as after
            left join sansfilm_replaced as before on before.{{ unique_key }} = after.{{ unique_key }}
        )
        where day is not null;
        {% endif -%}
        {% if vanishing_keys -%}
        insert into build.removed_keys
        select distinct {{ this_build() }}, '{{ this.identifier }}', {{ unique_key }} from sansfilm_replaced
        where {{ unique_key }} not in (select {{ unique_key }} from {{ source }} where {{ unique_key }} is not null);
        {% endif -%}
        {% if config.get('rewritten_studies') -%}
        insert into build.rewritten_studies
        select distinct '{{ this.identifier }}', study_hash, study_no
        from (
            select study_hash, study_no from {{ source }} union all select study_hash, study_no from sansfilm_replaced
        );
        {% endif -%}
        delete from {{ target }} where rowid in (select replaced_rowid from sansfilm_replaced);
        drop table sansfilm_replaced;
    {% endif %}
    insert into {{ target }} ({{ columns }}) (select {{ columns }} from {{ source }})
{%- endmacro %}

{#- The studies upstream models rewrote in this build, by number (study_no; `models`: a name or a list; config
    `rewritten_studies`). A small table of its own, not the model's `build_seq = this_build()`: DuckDB estimates that
    filter from the column's distinct values (a half of the table the night after a rebuild), takes the night's few
    thousand studies for millions and builds its join on the other side, the whole history (int_study_owners: 2.6 s
    against 0.7 at five years of 2 M studies a year, docs/scaling.md). -#}
{% macro rewritten_studies(models) -%}
    {%- set models = [models] if models is string else models -%}
    (select study_no from build.rewritten_studies where model in ('{{ models | join("', '") }}'))
{%- endmacro %}

{#- The days (dates) a mart recounts: those of the rows this build wrote in each of `columns` (model name -> its day
    column) and those of the rows it replaced there (build.replaced). Names, not ref()s: the mart refs the models in
    its body, and this SQL also goes into its config (replace_where), fixed when the project is parsed. -#}
{% macro rewritten_days(columns) -%}
    (
        select day from build.replaced
        where model in ({% for model in columns %}'{{ model }}'{{ ', ' if not loop.last }}{% endfor %})
        {%- for model, column in columns.items() %}
        union
        select {{ column }} from staged.{{ model }} where build_seq = {{ this_build() }}
        {%- endfor %}
    )
{%- endmacro %}

{#- The months (first days) of those days, for the marts recounted by month. -#}
{% macro rewritten_months(columns) -%}
    (select distinct date_trunc('month', day)::date from {{ rewritten_days(columns) }})
{%- endmacro %}

{#- A filter keeping the rows whose `column` (a date) falls in `months`: a lower bound first, which DuckDB prunes the
    older row groups by, then the exact months. -#}
{% macro in_months(column, months) -%}
    {{ column }} >= (select min(m) from {{ months }} as touched(m)) and date_trunc('month', {{ column }}) in {{ months }}
{%- endmacro %}

{#- The end of a keyed model's select: its rows in the order of their storage day (config `storage_day`), so that
    each row group holds a few days. A full rebuild writes the history so; a night appends its rows, nearly all of
    its last days. DuckDB keeps each row group's smallest and largest day and skips the row groups a filter on the
    day excludes: a publish deletes the rows a build replaced only in the row groups of their days (analytics.publish).
    -#}
{% macro in_storage_order() -%}
{%- if execute and not config.get('storage_day') -%}
    {%- do exceptions.raise_compiler_error('in_storage_order() needs the model to configure its storage_day') -%}
{%- endif -%}
order by {{ config.get('storage_day') }}
{%- endmacro %}
