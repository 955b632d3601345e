{#- Incremental: the rows of movies loaded since the last build are rewritten. -#}
{{
    config(
        materialized='incremental',
        unique_key='movie_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        meta={'tests_read_latest_build': true},
        pre_hook=["{{ drop_rewritten_movies() }}"],
    )
}}

-- depends_on: {{ ref('stg_tmdb__movies') }}
-- depends_on: {{ ref('stg_tmdb__movie_deletions') }}
with

filmography as (

    select * from {{ ref('int_people__filmography') }}
    where is_current and {{ loaded_since_last_build('raw_load_id') }}

),

final as (

    select
        person_id,
        credit_role,
        movie_id,
        release_date,
        reliable_revenue_usd,
        is_commercial_success,
        raw_load_id,
        {{ built_at() }} as built_at

    from filmography

)

select * from final
