{% test rolls_up(model, semantic_model, source) %}
{#- Each cell of a rollup (macros/semantic_rollup.sql), summed over the whole rollup, equals the
    same aggregate over the semantic model's rows: the rollup says what its model says. Sums of
    floating-point values may differ in their last digits, so the check is relative. -#}
    {%- if not execute -%}
    {{ return("select 1 as mismatch where false") }}
{%- endif -%}
    {%- set cells = rollup_cells(semantic_model_named(semantic_model), source) -%}
with

rolled as (
    select
    {%- for column, _ in cells %}
        sum({{ column }}) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
),

direct as (
    select
    {%- for column, expression in cells %}
        {{ expression }} as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ source }}
)

select 1 as mismatch
from rolled, direct
where
    {%- for column, _ in cells %}
    (rolled.{{ column }} is null) != (direct.{{ column }} is null)
    or abs(rolled.{{ column }} - direct.{{ column }})
    > 1e-9 * greatest(abs(direct.{{ column }}), 1){{ " or" if not loop.last }}
{%- endfor %}
{% endtest %}
