{% macro generate_schema_name(custom_schema_name, node) -%}
    {#- Schemas are exactly staging, intermediate and marts: no target prefix.
        `tmdb refresh` builds the marts into a shadow schema (var `marts_schema`, e.g.
        marts__next) and swaps it in whole, so no answer reads half-built marts. -#}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif custom_schema_name | trim == 'marts' -%}
        {{ var('marts_schema', 'marts') }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
