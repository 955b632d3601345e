{#- Incremental: the credits of movies loaded since the last build are rewritten. -#}
{{ movie_grained_incremental(
    indexes=[{'columns': ['movie_id']}, {'columns': ['person_id']}]
) }}

-- depends_on: {{ ref('stg_tmdb__movies') }}
-- depends_on: {{ ref('stg_tmdb__movie_deletions') }}
with

movies as (

    select * from {{ ref('int_movies__current') }}
    where {{ loaded_since_last_build('raw_load_id') }}

),

crew_credits as (

    select * from {{ ref('stg_tmdb__movie_crew') }}

),

final as (

    select
        crew_credits.movie_id,
        crew_credits.person_id,
        movies.release_date,
        movies.raw_load_id,
        {{ built_at() }} as built_at,
        min(crew_credits.department) as department,
        crew_credits.job

    from crew_credits
    inner join movies
        on crew_credits.movie_id = movies.movie_id
    where crew_credits.job is not null
    group by
        crew_credits.movie_id,
        crew_credits.person_id,
        crew_credits.job,
        movies.release_date,
        movies.raw_load_id

)

select * from final
