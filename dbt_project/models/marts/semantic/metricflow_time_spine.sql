with

days as (

    select
        generate_series(
            '1870-01-01'::date, '2060-12-31'::date, interval '1 day'
        )::date as date_day

),

final as (

    select date_day from days

)

select * from final
