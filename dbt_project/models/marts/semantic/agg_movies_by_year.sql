{{ semantic_rollup('movies', ref('dim_movies')) }}
