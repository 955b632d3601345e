{#- Incremental: the movies loaded since the last build are computed again. -#}
{{ movie_grained_incremental(indexes=[{'columns': ['movie_id']}]) }}

-- depends_on: {{ ref('stg_tmdb__movies') }}
-- depends_on: {{ ref('stg_tmdb__movie_deletions') }}
with

movies as (

    select * from {{ ref('int_movies__current') }}
    where {{ loaded_since_last_build('raw_load_id') }}

),

reliability as (

    select
        movie_id,
        raw_load_id,
        budget_usd,
        revenue_usd,
        coalesce(budget_usd >= {{ var('reliable_budget_usd') }}, false) as is_budget_reliable,
        coalesce(revenue_usd >= {{ var('reliable_revenue_usd') }}, false) as is_revenue_reliable

    from movies

),

final as (

    select
        movie_id,
        budget_usd,
        revenue_usd,
        is_budget_reliable,
        is_revenue_reliable,
        is_budget_reliable and is_revenue_reliable as is_financially_reliable,
        case
            when is_budget_reliable and is_revenue_reliable
                then revenue_usd - budget_usd
        end as profit_usd,
        case
            when is_budget_reliable and is_revenue_reliable
                then (revenue_usd - budget_usd)::double precision / budget_usd
        end as roi,
        case
            when is_budget_reliable and is_revenue_reliable
                then revenue_usd >= {{ var('success_revenue_multiple') }} * budget_usd
        end as is_commercial_success,
        raw_load_id,
        {{ built_at() }} as built_at

    from reliability

)

select * from final
