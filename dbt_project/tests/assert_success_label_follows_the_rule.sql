-- is_commercial_success is revenue >= multiple x budget when both are reliable, else NULL.
select
    movie_id,
    budget_usd,
    revenue_usd,
    is_commercial_success
from {{ ref('dim_movies') }}
where
    is_commercial_success is distinct from (
        case
            when
                budget_usd >= {{ var('reliable_budget_usd') }}
                and revenue_usd >= {{ var('reliable_revenue_usd') }}
                then revenue_usd >= {{ var('success_revenue_multiple') }} * budget_usd
        end
    )
