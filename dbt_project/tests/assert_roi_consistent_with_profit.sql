-- ROI is profit over budget, profit is revenue minus budget, and both exist together.
select
    movie_id,
    budget_usd,
    revenue_usd,
    profit_usd,
    roi
from {{ ref('dim_movies') }}
where
    (profit_usd is null) <> (roi is null)
    or (profit_usd is not null and profit_usd <> revenue_usd - budget_usd)
    or (roi is not null and abs(roi - profit_usd::double precision / budget_usd) > 1e-9)
