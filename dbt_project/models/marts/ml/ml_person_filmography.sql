{#- Incremental: the rows of movies loaded since the last build are rewritten. Indexed for
    a person's earlier films in a role: the track-record look-up of every `/predict`. -#}
{{ movie_grained_incremental(
    indexes=[{'columns': ['person_id', 'credit_role', 'release_date']}, {'columns': ['movie_id']}]
) }}

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
