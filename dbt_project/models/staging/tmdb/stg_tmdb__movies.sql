with

source as (

    select * from {{ source('tmdb', 'movies') }}

),

renamed as (

    select
        -- ids
        id as movie_id,
        {{ unknown_if_blank('imdb_id') }} as imdb_id,
        case
            when jsonb_typeof(belongs_to_collection) = 'object'
                then (belongs_to_collection ->> 'id')::bigint
        end as collection_id,

        -- text
        {{ unknown_if_blank('title') }} as title,
        {{ unknown_if_blank('original_title') }} as original_title,
        {{ unknown_if_blank('original_language') }} as original_language,
        {{ unknown_if_blank('overview') }} as overview,
        {{ unknown_if_blank('tagline') }} as tagline,
        {{ unknown_if_blank('status') }} as status,
        {{ unknown_if_blank('homepage') }} as homepage,
        case
            when jsonb_typeof(belongs_to_collection) = 'object'
                then {{ unknown_if_blank("belongs_to_collection ->> 'name'") }}
        end as collection_name,

        -- numerics
        {{ unknown_if_not_positive('budget') }} as budget_usd,
        {{ unknown_if_not_positive('revenue') }} as revenue_usd,
        ({{ unknown_if_not_positive('runtime') }})::integer as runtime_minutes,
        {{ unknown_if_not_positive('popularity') }} as popularity,
        case when vote_count > 0 then vote_average end as vote_average,
        coalesce(vote_count, 0) as vote_count,

        -- booleans
        coalesce(adult, false) as is_adult,
        coalesce(video, false) as is_video,
        (
            {{ unknown_if_blank('release_date') }} is not null
            and {{ safe_date('release_date') }} is null
        ) as has_malformed_release_date,

        -- dates and timestamps
        {{ safe_date('release_date') }} as release_date,
        _fetched_at as fetched_at,
        _dlt_load_id as raw_load_id

    from source

)

select * from renamed
