{{ semantic_rollup('movie_genres', ref('fct_movie_genres')) }}
