{#- The rules that turn a movie's facts into the classifier's features, written once.

    Two callers render them: dbt, for marts.ml_movie_features, and ml.feature_sql, for a movie
    described before release (`POST /predict`), which renders this file with plain Jinja and
    runs the result against the warehouse. So a catalogued movie and the same movie described
    get their features from the same SQL, down to the order in which a mean is summed.

    Only var() may be used here (ml.feature_sql provides it from dbt_project.yml): no ref(),
    source() or other dbt context, which the /predict path does not have. -#}


{#- Release timing from a release date: year, month, quarter, ISO day of week and season. -#}
{% macro ml_release_timing(release_date) -%}
    extract(year from {{ release_date }})::integer as release_year,
    extract(month from {{ release_date }})::integer as release_month,
    extract(quarter from {{ release_date }})::integer as release_quarter,
    extract(isodow from {{ release_date }})::integer as release_day_of_week,
    case
        when extract(month from {{ release_date }}) in (12, 1, 2) then 'winter'
        when extract(month from {{ release_date }}) in (3, 4, 5) then 'spring'
        when extract(month from {{ release_date }}) in (6, 7, 8) then 'summer'
        when extract(month from {{ release_date }}) in (9, 10, 11) then 'autumn'
    end as release_season
{%- endmacro %}


{#- The budget when it is reliable (at least var reliable_budget_usd), else NULL. -#}
{% macro ml_reliable_budget(budget_usd) -%}
    case when {{ budget_usd }} >= {{ var('reliable_budget_usd') }} then {{ budget_usd }} end
{%- endmacro %}


{#- A person's track record from the earlier films joined as `earlier` (rows of
    ml_person_filmography released strictly before the film in question; none for a debut). -#}
{% macro ml_track_record(earlier) -%}
    count({{ earlier }}.movie_id) as prior_film_count,
    (
        avg(case when {{ earlier }}.is_commercial_success then 1.0 else 0.0 end)
        filter (where {{ earlier }}.is_commercial_success is not null)
    )::double precision as prior_success_rate,
    percentile_cont(0.5) within group (
        order by {{ earlier }}.reliable_revenue_usd
    ) as prior_median_revenue_usd
{%- endmacro %}


{#- The director's columns from the director's track-record row. -#}
{% macro ml_director_record(records) -%}
    {{ records }}.prior_film_count as director_prior_film_count,
    {{ records }}.prior_success_rate as director_prior_success_rate,
    {{ records }}.prior_median_revenue_usd as director_prior_median_revenue_usd
{%- endmacro %}


{#- The top cast's columns: aggregates over the cast's track-record rows of one movie.
    Floating-point sums depend on their order: summing in ascending order makes each mean one
    exact value, whichever order the rows arrive in. -#}
{% macro ml_cast_record(records) -%}
    count(*) as top_cast_count,
    avg({{ records }}.prior_film_count)::double precision as cast_prior_film_count,
    avg({{ records }}.prior_success_rate order by {{ records }}.prior_success_rate)
        as cast_prior_success_rate,
    avg({{ records }}.prior_median_revenue_usd order by {{ records }}.prior_median_revenue_usd)
        as cast_prior_median_revenue_usd
{%- endmacro %}
