with

source as (

    select * from {{ source('tmdb', 'movie_snapshots') }}

),

renamed as (

    select
        -- ids
        id as movie_id,

        -- numerics
        {{ unknown_if_not_positive('popularity') }} as popularity,
        case when vote_count > 0 then vote_average end as vote_average,
        coalesce(vote_count, 0) as vote_count,
        {{ unknown_if_not_positive('budget') }} as budget_usd,
        {{ unknown_if_not_positive('revenue') }} as revenue_usd,

        -- dates and timestamps
        snapshot_date,
        fetched_at,

        -- lineage
        _dlt_load_id as raw_load_id

    from source

)

select * from renamed
