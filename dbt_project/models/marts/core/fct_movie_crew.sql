with

movies as (

    select * from {{ ref('int_movies__current') }}

),

crew_credits as (

    select * from {{ ref('stg_tmdb__movie_crew') }}

),

final as (

    select
        crew_credits.movie_id,
        crew_credits.person_id,
        movies.release_date,
        min(crew_credits.department) as department,
        crew_credits.job

    from crew_credits
    inner join movies
        on crew_credits.movie_id = movies.movie_id
    where crew_credits.job is not null
    group by crew_credits.movie_id, crew_credits.person_id, crew_credits.job, movies.release_date

)

select * from final
