-- The schemas are the warehouse's own (staged, marts), not dbt's default <target>_<custom> names: readers,
-- reporting queries and the published copy address them by these names.
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name is not none else target.schema }}
{%- endmacro %}
