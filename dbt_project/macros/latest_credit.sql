{#- Hooks of `dim_people`, incremental at the grain of a person (see the model). -#}

{% macro start_over_without_watermark() -%}
    {#- Pre-hook: a table without a watermark (empty, or built by an earlier version of the
        model, which lacks a column the model documents) is emptied, so that the build which
        then computes every person leaves no one behind who has no credit left. -#}
    {%- if is_incremental() and not (last_build_watermark() | trim) -%}
        delete from {{ this }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro drop_people_without_credits() -%}
    {#- Post-hook: the empty rows an incremental build wrote for people left without a credit
        on a current movie go, in the model's own transaction, so no reader sees them. -#}
    {%- if is_incremental() -%}
        delete from {{ this }} where latest_credit_movie_id is null
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro person_credits(condition) -%}
    {#- What a credit says about its person, cast and crew alike, for the credits `condition`
        keeps (both credit tables have the columns it names). -#}
    {%- set columns =
        'person_id, person_name, gender, known_for_department, movie_id, fetched_at, raw_load_id'
    -%}
    select {{ columns }} from {{ ref('stg_tmdb__movie_cast') }}
    where {{ condition }}
    union all
    select {{ columns }} from {{ ref('stg_tmdb__movie_crew') }}
    where {{ condition }}
{%- endmacro %}
