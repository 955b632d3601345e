with

crew as (

    select * from {{ ref('stg_tmdb__movie_crew') }}

),

directors as (

    select
        movie_id,
        person_id,
        person_name,
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
        person_name as director_name

    from directors
    where director_rank = 1

)

select * from final
