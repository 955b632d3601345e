{% macro generate_schema_name(custom_schema_name, node) -%}
    {#- Schemas are exactly staging, intermediate and marts: no target prefix. -#}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
