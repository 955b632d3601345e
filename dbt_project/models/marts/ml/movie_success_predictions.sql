with

scores as (

    select * from {{ source('ml', 'movie_success_scores') }}

),

movies as (

    select * from {{ ref('int_movies__current') }}

),

final as (

    select
        scores.movie_id,
        scores.model_version,
        scores.success_probability,
        scores.predicted_success,
        scores.scored_at

    from scores
    inner join movies
        on scores.movie_id = movies.movie_id

)

select * from final
