{#- Incremental: the movies loaded since the last build are picked again (a deleted movie
    keeps its row, as staging keeps its credits). -#}
{{ movie_grained_incremental(indexes=[{'columns': ['movie_id']}], deleted_too=false) }}

-- depends_on: {{ ref('stg_tmdb__movies') }}
with

crew as (

    select * from {{ ref('stg_tmdb__movie_crew') }}
    where {{ loaded_since_last_build('raw_load_id') }}

),

directors as (

    select
        movie_id,
        person_id,
        person_name,
        raw_load_id,
        row_number() over (
            partition by movie_id
            order by crew_position, person_id
        ) as director_rank

    from crew
    where job = 'Director'

),

final as (

    select
        movie_id,
        person_id as director_person_id,
        person_name as director_name,
        raw_load_id,
        {{ built_at() }} as built_at

    from directors
    where director_rank = 1

)

select * from final
