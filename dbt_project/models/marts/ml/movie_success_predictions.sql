with

scores as (

    select * from {{ source('ml', 'movie_success_scores') }}

),

movies as (

    select * from {{ ref('int_movies__current') }}

),

latest_version as (

    select model_version
    from scores
    order by scored_at desc, model_version desc
    limit 1

),

final as (

    select
        scores.movie_id,
        scores.model_version,
        scores.success_probability,
        scores.predicted_success,
        scores.scored_at,
        scores.top_factors,
        scores.features_digest,
        coalesce(scores.model_version = latest_version.model_version, false)
            as is_latest_model

    from scores
    inner join movies
        on scores.movie_id = movies.movie_id
    left join latest_version
        on scores.model_version = latest_version.model_version

)

select * from final
