{% macro unknown_if_not_positive(column) -%}
    {#- TMDB sends 0 for an unknown amount; negative amounts are malformed. Both become NULL. -#}
    case when {{ column }} > 0 then {{ column }} end
{%- endmacro %}

{% macro unknown_if_blank(column) -%}
    {#- TMDB sends '' for unknown text. -#}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{% macro safe_date(column) -%}
    {#- '' means unknown; anything that is not a plausible ISO date is treated as unknown rather
        than failing the whole build (malformed payloads are flagged, not fatal). -#}
    case
        when {{ column }} ~ '^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$'
            then {{ column }}::date
    end
{%- endmacro %}

{% macro json_array(expression) -%}
    {#- Unnest only what really is an array: a malformed field yields no rows instead of an error. -#}
    case when jsonb_typeof({{ expression }}) = 'array' then {{ expression }} else '[]'::jsonb end
{%- endmacro %}

{% macro gender_label(column) -%}
    {#- TMDB codes gender as 0 (not set), 1 female, 2 male, 3 non-binary. -#}
    case {{ column }}
        when 1 then 'female'
        when 2 then 'male'
        when 3 then 'non-binary'
    end
{%- endmacro %}
