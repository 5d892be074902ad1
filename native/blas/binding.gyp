{
  "targets": [
    {
      "target_name": "blas",
      "sources": ["blas.c", "cd.c", "gibbs.c", "tempering.c"],
      "include_dirs": ["<!(node -p \"process.env.RBM_CBLAS_INCLUDE || '.'\")"],
      "cflags": ["-O3", "-std=c11", "-fno-trapping-math", "-Wall", "-Wextra"],
      "libraries": ["-L<!(node -p \"process.env.RBM_OPENBLAS_LIB || '.'\")", "-lopenblas"],
      "defines": ["NAPI_VERSION=8"],
      "xcode_settings": {"OTHER_CFLAGS": ["-O3", "-std=c11", "-fno-trapping-math"]}
    }
  ]
}
